"""Putting work on the queue: a large upload, an inbox file, the evaluation after filings.

Each job is a ``filing_job`` row. An upload's bytes go to a file under ``TRACKER_SPOOL_DIR``
(written, synced and renamed into place before the row commits), not into the row: uploads run to
the 50 MB cap, and a row that size would bloat the table and the write-ahead log of the database
every other request reads from, while ``file_disclosure`` takes the bytes from a file as readily.
The spool folder must therefore be one that every web process and worker sees (one host, or a
shared volume), as the inbox folder already must. The file is removed once the job is finished.

On PostgreSQL the enqueue transaction also sends ``NOTIFY tracker_jobs``: idle workers LISTEN and
claim the job at once instead of at their next poll. SQLite has no notifications: its workers poll,
except that a worker thread in the process that enqueued (the scheduler's, for inbox files) is woken
at once through ``local_wakeup``.
"""

from __future__ import annotations

import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from tracker.config import Settings
from tracker.store.models import FilingJob, columns
from tracker.store.types import utcnow

NOTIFY_CHANNEL = "tracker_jobs"
JOB_TYPES = ("filing", "inbox", "evaluation")
OPEN_STATUSES = ("queued", "running")
# Set after every enqueue in this process: wakes this process's idle worker threads at once.
local_wakeup = threading.Event()
# The predicates of the partial unique indexes of migration 0014 (ON CONFLICT must name them).
QUEUED_EVALUATION = "job_type = 'evaluation' AND status = 'queued'"
OPEN_INBOX_FILE = "job_type = 'inbox' AND status IN ('queued', 'running')"


@dataclass(frozen=True)
class Queued:
    job_id: int
    public_id: str


def job_table() -> Any:
    return FilingJob.__table__  # type: ignore[attr-defined]


def _insert(conn: Connection) -> Any:
    table = job_table()
    return postgresql.insert(table) if conn.dialect.name == "postgresql" else sqlite.insert(table)


def _values(settings: Settings, job_type: str, **fields: Any) -> dict[str, Any]:
    now = utcnow()
    return {"public_id": secrets.token_hex(16), "job_type": job_type, "status": "queued", "attempts": 0,
            "max_attempts": settings.worker_max_attempts, "run_after": now, "created_at": now, **fields}


def notify(conn: Connection) -> None:
    """Wake the idle workers when this transaction commits (PostgreSQL; a no-op on SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_notify(:channel, '')"), {"channel": NOTIFY_CHANNEL})


def spool(settings: Settings, content: bytes) -> Path:
    """Write ``content`` to a new file in the spool folder: synced, then renamed into place, so a
    job row never names a half-written file."""
    folder = settings.spool_dir
    folder.mkdir(parents=True, exist_ok=True)
    name = secrets.token_hex(16)
    partial, final = folder / f".{name}.partial", folder / f"{name}.upload"
    try:
        with partial.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return final


def enqueue_upload(engine: Engine, settings: Settings, *, content: bytes, filename: str, kind: str | None,
                   provider_id: int, provider_slug: str, filed_by: str, channel: str) -> Queued:
    """Spool an upload and queue its filing; the caller answers 202 with the job's public id."""
    path = spool(settings, content)
    values = _values(settings, "filing", provider_id=provider_id, provider_slug=provider_slug,
                     disclosure_kind=(kind or "")[:64], filename=filename[-255:], channel=channel,
                     filed_by=filed_by[:200], size_bytes=len(content), spool_path=str(path))
    try:
        with engine.begin() as conn:
            job_id = conn.execute(_insert(conn).values(values).returning(job_table().c.id)).scalar_one()
            notify(conn)
    except BaseException:
        path.unlink(missing_ok=True)  # nothing queued: nothing to keep
        raise
    local_wakeup.set()
    return Queued(int(job_id), values["public_id"])


def enqueue_inbox_file(engine: Engine, settings: Settings, *, path: Path, provider: str, kind: str) -> bool:
    """Queue the filing of an inbox file; False when that file already has an open job (a poll
    while a worker is on it must not queue it twice)."""
    values = _values(settings, "inbox", provider_slug=provider[:64], disclosure_kind=kind[:64],
                     filename=path.name[-255:], channel="inbox", filed_by="inbox", spool_path=str(path))
    with engine.begin() as conn:
        inserted = conn.execute(
            _insert(conn).values(values)
            .on_conflict_do_nothing(index_elements=["spool_path"], index_where=sa.text(OPEN_INBOX_FILE))
            .returning(job_table().c.id)
        ).first()
        if inserted is not None:
            notify(conn)
    if inserted is not None:
        local_wakeup.set()
    return inserted is not None


def enqueue_evaluation(target: Engine | Connection, settings: Settings) -> None:
    """Queue the evaluation after filings, unless one is already queued (it will read every filing
    committed before it starts). Pass a connection to enqueue inside a filing's own transaction."""
    if isinstance(target, Engine):
        with target.begin() as conn:
            enqueue_evaluation(conn, settings)
        local_wakeup.set()
        return
    target.execute(
        _insert(target).values(_values(settings, "evaluation"))
        .on_conflict_do_nothing(index_elements=["job_type"], index_where=sa.text(QUEUED_EVALUATION))
    )
    notify(target)


def open_jobs(conn: Connection, job_type: str) -> dict[str, int]:
    """How many jobs of a type are queued and running (for logs and status pages)."""
    j = columns(FilingJob)
    rows = conn.execute(sa.select(j.status, sa.func.count()).where(j.job_type == job_type,
                                                                   j.status.in_(OPEN_STATUSES))
                        .group_by(j.status)).all()
    return {str(status): int(count) for status, count in rows}
