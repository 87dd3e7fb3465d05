"""The scheduler's jobs: thin wrappers that look up their real function at run time.

APScheduler stores each job as a ``module:function`` reference to one of these wrappers. The
real functions are imported inside the wrapper, so the scheduler starts (and keeps its other
jobs running) even while a module it calls is missing or broken. Every wrapper catches and logs
its own failure: one bad run never stops the schedule. Every job is idempotent.

Filing is not the scheduler's work: the inbox poll only queues the ready files, and the workers
(``tracker worker``, or the scheduler's own worker thread) file them and run the evaluation after
filings (``tracker.worker``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger(__name__)


def _run(job_id: str, body: Callable[[], Any]) -> Any:
    started = time.monotonic()
    log.info("job %s started", job_id)
    try:
        result = body()
    except ImportError as exc:
        log.warning("job %s skipped: %s is not available (%s)", job_id, exc.name or "a module", exc)
        return None
    except Exception:
        log.exception("job %s failed after %.2fs", job_id, time.monotonic() - started)
        return None
    log.info("job %s finished in %.2fs: %s", job_id, time.monotonic() - started, _describe(result))
    return result


def _describe(result: Any) -> str:
    for attr in ("summary", "line"):
        method = getattr(result, attr, None)
        if callable(method):
            return str(method())
    if isinstance(result, list):
        return f"{len(result)} item(s)"
    return "done" if result is None else str(result)


def _context() -> tuple[Any, Any]:
    from tracker.config import get_settings
    from tracker.store.db import get_engine

    settings = get_settings()
    return get_engine(settings.database_url), settings


def _today() -> Any:
    return datetime.now(UTC).date()


def _evaluate(actor: str) -> Any:
    from tracker.registry.pipeline import run_evaluation
    from tracker.worker.evaluation import evaluation_lock

    engine, _settings = _context()
    # Never two evaluations at once, in this process or any other (the workers').
    with evaluation_lock(engine):
        return run_evaluation(engine, _today(), actor=actor)


def poll_inbox() -> None:
    """Queue every ready inbox file for the workers (a file already queued is not queued again);
    the worker that files one also queues the evaluation after it and sends its alerts."""
    def body() -> str:
        from tracker.filing.inbox import MIN_AGE_S, ready_files
        from tracker.worker.queue import enqueue_inbox_file

        engine, settings = _context()
        # A file must sit still for a moment before it is taken (it may still be being written),
        # but never longer than half a poll: otherwise a file dropped just after a poll waits two.
        min_age_s = min(MIN_AGE_S, settings.inbox_poll_seconds / 2)
        found = ready_files(settings, min_age_s=min_age_s)
        queued = sum(enqueue_inbox_file(engine, settings, path=item.path, provider=item.provider, kind=item.kind)
                     for item in found)
        return f"{queued} file(s) queued, {len(found) - queued} already queued"

    _run("inbox-poll", body)


def evaluate() -> None:
    _run("evaluate", lambda: _evaluate("scheduler"))


def dispatch_alerts() -> None:
    def body() -> Any:
        from tracker.alerts.dispatch import dispatch_pending

        engine, settings = _context()
        return dispatch_pending(engine, settings)

    _run("alerts-dispatch", body)


def remind_deadlines() -> None:
    def body() -> str:
        from tracker.alerts.reminders import remind_deadlines as remind

        engine, settings = _context()
        return f"{remind(engine, settings, _today())} reminder(s) enqueued"

    _run("deadline-reminders", body)


def refresh_public_data() -> None:
    def body() -> Any:
        engine, settings = _context()
        if settings.public_data_path is None:
            return "skipped: TRACKER_PUBLIC_DATA_PATH is not set"
        from tracker.filing.public import import_epoch

        return import_epoch(engine, settings.public_data_path, actor="scheduler")

    _run("public-refresh", body)


def checkpoint_audit() -> None:
    """Checkpoint the audit chain's head once a day, so that even a quiet registry has a recent
    head outside the database (nothing is written when the head is already checkpointed)."""
    def body() -> str:
        from sqlmodel import Session

        from tracker.store import audit

        engine, _settings = _context()
        with Session(engine) as session:
            made = audit.checkpoint_now(session, "daily")
            session.commit()
        return "head already checkpointed" if made is None else f"{made.describe()} at entry {made.last_event_id}"

    _run("audit-checkpoint", body)


def maintain_partitions() -> None:
    """Create the coming months' partitions of the history tables and detach expired ones
    (PostgreSQL; the module says what it does elsewhere). Skipped while the module is absent."""
    def body() -> str:
        from tracker.store.partitions import maintain

        engine, settings = _context()
        return maintain(engine, settings, _today())

    _run("partition-maintenance", body)
