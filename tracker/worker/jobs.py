"""What a worker does with each kind of job.

A filing job (spooled upload or inbox file) is filed and finished in ONE transaction: the filing,
its audit entry, the evaluation it queues and the job's ``done``/``rejected`` row commit together or
not at all. A worker killed mid-filing therefore leaves nothing behind, and the worker that claims
the job after the lease files it once; a worker whose lease ran out while it was still filing
finds at the end that the job is no longer its own (``LostClaim``) and rolls its filing back. (The
filing service's duplicate check, same provider and same bytes, is the second guard.) Only after
the commit is the spooled file deleted or the inbox file moved.

A rejected file ends ``rejected`` with its receipt, never retried. An unexpected error (database
gone, disk full) is retried after a backoff by the runner; a job whose worker died
``max_attempts`` times (a file that kills the process) ends ``failed`` and no longer blocks anyone.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.config import Settings
from tracker.filing.inbox import InboxFile, file_inbox_file, folder_problem, park_unfiled, settle
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import FilingError, file_disclosure
from tracker.store.db import make_engine
from tracker.worker.claim import Claimed, finish
from tracker.worker.evaluation import evaluate_and_dispatch
from tracker.worker.queue import enqueue_evaluation

log = logging.getLogger(__name__)


def worker_engine(url: str) -> Engine:
    """The application's engine, and on SQLite one whose transactions begin with an explicit BEGIN.

    Python's sqlite3 module begins a transaction only before its first write, so the SAVEPOINT with
    which the filing service nests its work in the job's transaction would start (and its RELEASE
    commit) a transaction of its own. With an explicit deferred BEGIN the savepoint nests, and the
    database's write lock is still taken only when the filing writes, not while the file is parsed.
    """
    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        @event.listens_for(engine, "connect")
        def _manual_transactions(dbapi_connection: object, _record: object) -> None:
            dbapi_connection.isolation_level = None  # type: ignore[attr-defined]

        @event.listens_for(engine, "begin")
        def _begin(conn: object) -> None:
            conn.exec_driver_sql("BEGIN")  # type: ignore[attr-defined]
    return engine


def run_job(engine: Engine, settings: Settings, claimed: Claimed) -> str:
    """Do the job; returns its final status (``done``, ``rejected`` or ``failed``). Unexpected
    errors propagate: the runner queues the job again after a backoff."""
    if claimed.exhausted:
        return _give_up(engine, settings, claimed)
    if claimed.job_type == "evaluation":
        outcome = evaluate_and_dispatch(engine, settings, actor="worker")
        with engine.begin() as conn:
            finish(conn, claimed, "done", outcome_json=json.dumps(outcome))
        return "done"
    if claimed.job_type == "inbox":
        return _file_inbox(engine, settings, claimed)
    return _file_upload(engine, settings, claimed)


def _fail(engine: Engine, claimed: Claimed, error: str) -> str:
    with engine.begin() as conn:
        finish(conn, claimed, "failed", error=error)
    log.error("job %s (%s) failed: %s", claimed.id, claimed.job_type, error)
    return "failed"


def _conclude(session: Session, settings: Settings, claimed: Claimed, outcome: Receipt | Rejection) -> str:
    """Inside the filing's transaction: queue the evaluation a new filing needs, finish the job."""
    if settings.environment == "test" and settings.worker_test_pause_s > 0:
        # Lets a test kill the worker while the filing is written but not committed.
        log.info("job %s: pausing %.1fs inside the filing transaction (test hook)", claimed.id,
                 settings.worker_test_pause_s)
        time.sleep(settings.worker_test_pause_s)
    connection = session.connection()
    if isinstance(outcome, Receipt) and not outcome.duplicate:
        enqueue_evaluation(connection, settings)
    status = "done" if isinstance(outcome, Receipt) else "rejected"
    finish(connection, claimed, status, accession=outcome.accession, outcome_json=json.dumps(outcome.to_dict()))
    return status


def _file_upload(engine: Engine, settings: Settings, claimed: Claimed) -> str:
    path = Path(claimed.spool_path or "")
    if not path.is_file():
        return _fail(engine, claimed, f"the spooled upload {path.name} is gone; nothing was filed")
    # The bytes, as the synchronous API files them: the same format detection, the same verdict.
    content = path.read_bytes()
    with Session(engine, expire_on_commit=False) as session:
        try:
            outcome = file_disclosure(
                session, content=content, filename=claimed.filename or "upload", kind=claimed.disclosure_kind or None,
                provider_slug=claimed.provider_slug or "", filed_by=claimed.filed_by or "worker",
                channel=claimed.channel or "api", create_provider=False)
        except FilingError as exc:  # the provider is gone: nothing to retry
            session.rollback()
            path.unlink(missing_ok=True)
            return _fail(engine, claimed, str(exc))
        status = _conclude(session, settings, claimed, outcome)
        session.commit()
    path.unlink(missing_ok=True)
    log.info("job %s: %s filed %s as %s (%s)", claimed.id, claimed.filename, claimed.provider_slug,
             outcome.accession, status)
    return status


def _file_inbox(engine: Engine, settings: Settings, claimed: Claimed) -> str:
    item = InboxFile(Path(claimed.spool_path or ""), claimed.provider_slug or "", claimed.disclosure_kind or "")
    if not item.path.is_file():
        return _fail(engine, claimed, f"the inbox file {item.path} is gone (moved or deleted since it was queued)")
    problem = folder_problem(item)
    if problem is not None:
        parked = park_unfiled(item, problem, settings)
        issued = parked.outcome.to_dict() if parked.outcome else {}
        with engine.begin() as conn:
            finish(conn, claimed, "rejected", outcome_json=json.dumps(issued))
        return "rejected"
    with Session(engine, expire_on_commit=False) as session:
        try:
            outcome = file_inbox_file(session, settings, item)
        except FilingError as exc:
            session.rollback()
            return _fail(engine, claimed, str(exc))
        status = _conclude(session, settings, claimed, outcome)
        session.commit()
    result = settle(settings, item, outcome)  # after the commit: a crash before it re-files as a duplicate
    log.info("job %s: inbox file %s filed as %s (%s)%s", claimed.id, item.path.name, outcome.accession, status,
             f"; {result.error}" if result.error else "")
    return status


def _give_up(engine: Engine, settings: Settings, claimed: Claimed) -> str:
    """The job's worker stopped every time it held it (killed, out of memory): stop trying, and keep
    an inbox file out of the next poll by parking it with the reason."""
    reason = (f"not filed: the worker holding this job stopped {claimed.max_attempts} times (killed or out of "
              "memory); file it again once the cause is fixed")
    if claimed.job_type == "inbox" and claimed.spool_path and Path(claimed.spool_path).is_file():
        park_unfiled(InboxFile(Path(claimed.spool_path), claimed.provider_slug or "", claimed.disclosure_kind or ""),
                     reason, settings)
    if claimed.job_type == "filing" and claimed.spool_path:
        Path(claimed.spool_path).unlink(missing_ok=True)
    return _fail(engine, claimed, reason)
