"""Faults in the middle of an inbox filing: the database goes away inside the filing transaction, and
the disk holding the archive fills up during the move.

Covered elsewhere and not repeated here: a crash between commit and move
(tests/filing/test_filing_inbox.py::test_a_crash_between_commit_and_move_files_once), webhook and
SMTP receivers down, slow or failing (tests/alerts), the scheduler leader killed (tests/scheduler).
"""

from __future__ import annotations

import errno
import logging
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from tests.filing.conftest import audit_actions, filings, record_counts
from tracker.config import get_settings
from tracker.filing import inbox as inbox_module
from tracker.filing import service
from tracker.filing.inbox import poll_inbox
from tracker.filing.receipts import Receipt, Rejection
from tracker.store.db import get_engine, make_engine

GOOD = b"system,run_id,reported_flop\nacme-lm,r1,1e24\n"
# ~70 KB: larger than the space left on the tiny archive file system below.
LARGE = b"system,run_id,reported_flop\n" + b"".join(f"acme-lm,run-{i:05d},1e24\n".encode() for i in range(3000))
BAD = b"system,run_id,accelerator_count,reported_flop\nacme-lm,r1,-8,1e24\n"


def drop(runtime: Path, name: str, content: bytes, kind: str = "training_runs") -> Path:
    folder = runtime / "inbox" / "acme" / kind
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


# --- (a) the database goes away inside the filing transaction -----------------------------------

def test_database_lost_mid_ingest_leaves_the_file_for_the_next_poll_which_files_it_once(
        settings_env: Path, db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    engine = get_engine()
    source = drop(settings_env, "runs.csv", GOOD)
    real_store = service._store_records
    killed: list[int] = []

    def store_then_lose_the_database(session: Session, *args: Any) -> Any:
        stored = real_store(session, *args)  # rows are written, the transaction is still open
        if not killed:
            killed.append(1)
            if engine.dialect.name == "postgresql":
                pid = int(session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar_one())
                killer = make_engine(db_url)
                with killer.connect() as conn:
                    assert conn.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
                killer.dispose()
            else:  # SQLite has no server to kill: the write fails as on a lost or broken disk
                raise sa.exc.OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))
        return stored

    monkeypatch.setattr(service, "_store_records", store_then_lose_the_database)
    with caplog.at_level(logging.ERROR, logger="tracker.filing.inbox"):
        (lost,) = poll_inbox(engine, get_settings(), min_age_s=0)
    assert killed == [1]
    assert lost.outcome is None and lost.destination is None
    assert lost.error is not None and "OperationalError" in lost.error
    assert str(source) in caplog.text and "stays in the inbox" in caplog.text
    assert source.read_bytes() == GOOD  # still in the inbox, untouched
    assert filings(engine) == [] and record_counts(engine)["training_run"] == 0  # rolled back whole
    assert files_under(settings_env / "archive") == []

    (filed,) = poll_inbox(engine, get_settings(), min_age_s=0)  # the database is back (new connection)
    assert isinstance(filed.outcome, Receipt) and not filed.outcome.duplicate
    assert not source.exists() and filed.destination is not None and filed.destination.read_bytes() == GOOD
    assert poll_inbox(engine, get_settings(), min_age_s=0) == []
    assert [(f.status, f.accession) for f in filings(engine)] == [("accepted", filed.outcome.accession)]
    assert record_counts(engine)["training_run"] == 1
    assert audit_actions(engine).count("filing.accepted") == 1


# --- (f) the disk holding the archive fills up ---------------------------------------------------

@pytest.fixture
def tiny_archive_fs(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, nearly filled; skipped where mounting is not allowed (the monkeypatched
    variant below covers ENOSPC everywhere)."""
    mount_point = tmp_path / "archive-fs"
    mount_point.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the monkeypatched test covers ENOSPC")
    try:
        filler = mount_point / "filler"
        with filler.open("wb", buffering=0) as handle:
            try:
                while True:
                    handle.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
        # Leave ~32 KiB free: enough for folders, not for the file.
        with filler.open("r+b") as handle:
            handle.truncate(max(0, filler.stat().st_size - 32 * 1024))
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def _assert_disk_full_then_recovered(runtime: Path, archive: Path, caplog: pytest.LogCaptureFixture,
                                     free_space: Callable[[], None]) -> None:
    engine = get_engine()
    source = drop(runtime, "runs.csv", LARGE)
    with caplog.at_level(logging.ERROR, logger="tracker.filing.inbox"):
        (full,) = poll_inbox(engine, get_settings(), min_age_s=0)
    assert isinstance(full.outcome, Receipt)  # the filing committed before the move
    accession = full.outcome.accession
    assert accession is not None and full.destination is None and full.error is not None
    assert accession in full.error and "No space left on device" in full.error
    assert str(source) in caplog.text and "No space left on device" in caplog.text
    # Exactly one place: the inbox; no partial copy in the archive.
    assert source.read_bytes() == LARGE
    assert [p for p in files_under(archive) if p != "filler"] == []
    assert [(f.status, f.accession) for f in filings(engine)] == [("accepted", accession)]

    free_space()
    (moved,) = poll_inbox(engine, get_settings(), min_age_s=0)
    assert isinstance(moved.outcome, Receipt) and moved.outcome.duplicate and moved.outcome.accession == accession
    assert moved.error is None and not source.exists()
    assert moved.destination == archive / "acme" / "training_runs" / f"{accession}__runs.csv"
    assert moved.destination.read_bytes() == LARGE
    assert [p for p in files_under(archive) if p != "filler"] == [f"acme/training_runs/{accession}__runs.csv"]
    assert len(filings(engine)) == 1 and record_counts(engine)["training_run"] == 3000
    assert audit_actions(engine).count("filing.accepted") == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_archive_disk_full_on_a_real_tmpfs(settings_env: Path, tiny_archive_fs: Path,
                                           monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("TRACKER_ARCHIVE_DIR", str(tiny_archive_fs))
    get_settings.cache_clear()
    _assert_disk_full_then_recovered(settings_env, tiny_archive_fs, caplog,
                                     lambda: (tiny_archive_fs / "filler").unlink())


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_archive_disk_full_simulated(settings_env: Path, monkeypatch: pytest.MonkeyPatch,
                                     caplog: pytest.LogCaptureFixture) -> None:
    """The same through monkeypatching: the archive is "another file system" (EXDEV) whose copy
    writes half the file and then fails with ENOSPC, as a real copy does."""
    archive = settings_env / "archive"
    real_replace, real_copy = inbox_module.os.replace, shutil.copy2
    full = [True]

    def replace(src: Any, dst: Any) -> None:
        if Path(src).is_relative_to(settings_env / "inbox"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real_replace(src, dst)

    def copy2(src: Any, dst: Any) -> Any:
        if full[0]:
            Path(dst).write_bytes(Path(src).read_bytes()[: len(LARGE) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_copy(src, dst)

    monkeypatch.setattr(inbox_module.os, "replace", replace)
    monkeypatch.setattr(inbox_module.shutil, "copy2", copy2)
    _assert_disk_full_then_recovered(settings_env, archive, caplog, lambda: full.__setitem__(0, False))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_rejected_folder_disk_full_leaves_no_half_written_errors_file(
        settings_env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    engine = get_engine()
    drop(settings_env, "bad.csv", BAD)
    real_write_text = Path.write_text

    def write_text(self: Path, data: str, *args: Any, **kwargs: Any) -> int:
        if self.name.endswith(".errors.json"):
            real_write_text(self, data[:10], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    with caplog.at_level(logging.ERROR, logger="tracker.filing.inbox"):
        (result,) = poll_inbox(engine, get_settings(), min_age_s=0)
    monkeypatch.undo()
    assert isinstance(result.outcome, Rejection)
    parked = settings_env / "rejected" / "acme" / "training_runs" / "bad.csv"
    assert result.destination == parked and parked.read_bytes() == BAD
    assert result.error is not None and "bad.csv.errors.json not written" in result.error
    assert "No space left on device" in caplog.text and "bad.csv" in caplog.text
    assert files_under(settings_env / "rejected") == ["acme/training_runs/bad.csv"]  # no partial errors file
    assert not (settings_env / "inbox" / "acme" / "training_runs" / "bad.csv").exists()
    (stored,) = filings(engine)
    assert stored.status == "rejected" and stored.errors_json and "-8 is negative" in stored.errors_json
