"""The drop folder: ``<inbox>/<provider>/<kind>/<file>``, polled by the scheduler every minute.

The scheduler's poll only queues the ready files (``ready_files``; one open job per file) and a
worker files each (``file_inbox_file`` inside the job's transaction, then ``settle`` moves it);
``poll_inbox`` does both at once in the calling process (tests, and a single-process install).

Accepted files move to ``<archive>/<provider>/<kind>/<accession>__<name>``; rejected ones to
``<rejected>/<provider>/<kind>/<name>`` with ``<name>.errors.json`` beside them.

Crash safety: the database commit happens before the move. If the process dies in between, the
file is still in the inbox; the next poll files the same bytes, gets the original receipt (filing
is idempotent by SHA-256) and moves the file then — no duplicate records.

Files still being written are skipped: names starting with ``.`` or ending ``.part``/``.tmp``/
``.partial``, and files modified in the last ``min_age_s`` seconds. Symbolic links are never
followed, and every destination is built from a sanitised base name inside the configured folders.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from tracker.config import Settings
from tracker.filing.kinds import KINDS
from tracker.filing.problems import Problem
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import SLUG, FilingError, file_disclosure, safe_filename

log = logging.getLogger(__name__)
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
MIN_AGE_S = 2.0
INBOX_ACTOR = "inbox"


@dataclass(frozen=True)
class InboxResult:
    source: Path  # where the file was found
    destination: Path | None  # where it went (None: left in place after an unexpected failure)
    outcome: Receipt | Rejection | None
    error: str | None = None  # an unexpected failure: the file stays and is retried next poll


@dataclass(frozen=True)
class InboxFile:
    path: Path
    provider: str  # the folder's name: not yet checked to be a provider slug
    kind: str  # the sub-folder's name: not yet checked to be a kind


def _ready(path: Path, now: float, min_age_s: float) -> bool:
    name = path.name
    if name.startswith(".") or name.lower().endswith(IN_PROGRESS_SUFFIXES):
        return False
    if path.is_symlink() or not path.is_file():
        return False
    return now - path.stat().st_mtime >= min_age_s


def _free(path: Path) -> Path:
    """The path, or the same name with a counter when taken (never overwrite an archived file)."""
    if not path.exists():
        return path
    for n in range(1, 10_000):
        candidate = path.with_name(f"{path.stem}.{n}{path.suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(path)


def _move(source: Path, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    target = _free(destination)
    try:
        os.replace(source, target)  # atomic within one file system
    except OSError:
        # Another file system. Fixed (issue 8): shutil.move left a truncated copy at the target when
        # the disk filled up mid-copy, so the file was in two places and the next poll archived it
        # again under a new name. Copy to a hidden name, rename, and only then remove the source.
        partial = target.with_name(f".{target.name}.partial")
        try:
            shutil.copy2(source, partial)
            os.replace(partial, target)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        source.unlink()
    return target


def _reject_in_place(path: Path, message: str, settings: Settings, provider: str, kind: str) -> InboxResult:
    # A folder that names no provider or kind cannot be filed: park the file with the reason.
    rejection = Rejection(None, provider, kind, "", path.name, None, [Problem.file(message)])
    return _park_rejected(path, rejection, settings.rejected_dir / "_unfiled")


def _park_rejected(path: Path, rejection: Rejection, folder: Path) -> InboxResult:
    target = _move(path, folder / safe_filename(path.name))
    errors = target.with_name(target.name + ".errors.json")
    try:
        errors.write_text(json.dumps(rejection.to_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
    except OSError as exc:  # disk full: no half-written errors file; the errors are in the database
        errors.unlink(missing_ok=True)
        log.error("rejected inbox file %s was parked at %s but %s could not be written: %s", path, target,
                  errors.name, exc)
        return InboxResult(path, target, rejection, f"{errors.name} not written: {exc}")
    return InboxResult(path, target, rejection)


def ready_files(settings: Settings, *, min_age_s: float = MIN_AGE_S) -> list[InboxFile]:
    """Every file of the inbox that is ready to be filed, in folder and name order."""
    inbox = settings.inbox_dir
    if not inbox.is_dir():
        return []
    now = time.time()
    found: list[InboxFile] = []
    for provider_dir in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.is_symlink()):
        for kind_dir in sorted(p for p in provider_dir.iterdir() if p.is_dir() and not p.is_symlink()):
            for path in sorted(kind_dir.iterdir()):
                if _ready(path, now, min_age_s):
                    found.append(InboxFile(path, provider_dir.name, kind_dir.name))
    return found


def poll_inbox(engine: Engine, settings: Settings, *, min_age_s: float = MIN_AGE_S) -> list[InboxResult]:
    """File every ready file of the inbox once, in this process; returns what happened to each."""
    return [_file_one_safely(engine, settings, item) for item in ready_files(settings, min_age_s=min_age_s)]


def _file_one_safely(engine: Engine, settings: Settings, item: InboxFile) -> InboxResult:
    # Fixed (issue 8): a failed move (disk full) or a database error raised out of poll_inbox,
    # aborting the rest of the poll with no message naming the file. The file stays in the inbox:
    # the commit came first, so the next poll gets the original receipt and only moves it.
    try:
        return _file_one(engine, settings, item)
    except (OSError, SQLAlchemyError) as exc:
        problem = f"{type(exc).__name__}: {_first_line(exc)}"
        log.error("inbox file %s was not filed or not moved (%s); it stays in the inbox and is retried "
                  "next poll", item.path, problem)
        return InboxResult(item.path, None, None, problem)


def folder_problem(item: InboxFile) -> str | None:
    """Why the folders the file sits in name no provider or kind (None: they do)."""
    if not SLUG.match(item.provider):
        return f"inbox folder {item.provider!r} is not a provider slug"
    if item.kind not in KINDS:
        return f"inbox sub-folder {item.kind!r} is not a kind; expected one of {', '.join(KINDS)}"
    return None


def park_unfiled(item: InboxFile, message: str, settings: Settings) -> InboxResult:
    """Park a file that cannot be filed (folders that name no provider or kind, or a file the workers
    gave up on) under ``<rejected>/_unfiled`` with the reason beside it."""
    return _reject_in_place(item.path, message, settings, item.provider, item.kind)


def file_inbox_file(target: Engine | Session, settings: Settings, item: InboxFile) -> Receipt | Rejection:
    """File one inbox file whose folders are valid (``folder_problem`` is None); with a session, in
    its transaction (the caller commits, then calls ``settle``). Raises FilingError or OSError."""
    name = safe_filename(item.path.name)
    archive = settings.archive_dir / item.provider / item.kind
    return file_disclosure(
        target, content=item.path, filename=name, kind=item.kind, provider_slug=item.provider, filed_by=INBOX_ACTOR,
        channel="inbox", stored_path=lambda accession: str(archive / f"{accession}__{name}"),
    )


def settle(settings: Settings, item: InboxFile, outcome: Receipt | Rejection) -> InboxResult:
    """After the filing committed: archive an accepted file, park a rejected one with its errors."""
    if isinstance(outcome, Rejection):
        return _park_rejected(item.path, outcome, settings.rejected_dir / item.provider / item.kind)
    name = safe_filename(item.path.name)
    try:
        target = _move(item.path, settings.archive_dir / item.provider / item.kind / f"{outcome.accession}__{name}")
    except OSError as exc:
        log.error("inbox file %s was filed as %s but could not be moved to the archive (%s); it stays in "
                  "the inbox and the next poll moves it without filing it again", item.path, outcome.accession, exc)
        return InboxResult(item.path, None, outcome, f"filed as {outcome.accession}, not archived: {exc}")
    return InboxResult(item.path, target, outcome)


def _file_one(engine: Engine, settings: Settings, item: InboxFile) -> InboxResult:
    problem = folder_problem(item)
    if problem is not None:
        return park_unfiled(item, problem, settings)
    try:
        outcome = file_inbox_file(engine, settings, item)
    except (FilingError, OSError) as exc:
        log.exception("inbox file %s could not be filed", item.path)
        return InboxResult(item.path, None, None, str(exc))
    return settle(settings, item, outcome)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else "")[:300]
