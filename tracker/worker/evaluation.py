"""The evaluation after filings, as a queue job: evaluate what the filings changed, then send the
alerts that caused at once (no dispatch interval sits between a filing and its webhook).

Evaluations are serialised across processes (the nightly run in the scheduler, a worker's run after
filings, another worker's), because two of them writing the same systems' estimates at once would
race: PostgreSQL, a session-level advisory lock held on one connection for the evaluation's length
(freed by the server if the process dies); SQLite, an OS file lock beside the database file.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from filelock import FileLock
from sqlalchemy.engine import Engine

from tracker.config import RUNTIME_DIR, Settings

# The audit chain uses 7_300_251, filings 7_300_252 and the scheduler's leader 7_300_253.
EVALUATION_LOCK_KEY = 7_300_254
_in_process = threading.Lock()


def _lock_path(engine: Engine) -> Path:
    database = engine.url.database
    if database and database != ":memory:":
        return Path(f"{database}.evaluation.lock")
    return RUNTIME_DIR / "evaluation.lock"


@contextmanager
def evaluation_lock(engine: Engine) -> Iterator[None]:
    """Held while one evaluation runs; others wait for it."""
    with _in_process:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": EVALUATION_LOCK_KEY})
                try:
                    yield
                finally:
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": EVALUATION_LOCK_KEY})
                    conn.commit()
            return
        path = _lock_path(engine)
        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path), thread_local=False):
            yield


def evaluate_and_dispatch(engine: Engine, settings: Settings, actor: str) -> dict[str, Any]:
    """Evaluate what the filings since the last evaluation changed, then deliver the alerts due."""
    from sqlmodel import Session

    from tracker.alerts.dispatch import dispatch_pending
    from tracker.registry.inputs import latest_accepted_filing_id
    from tracker.registry.pipeline import evaluate_after_filings

    with evaluation_lock(engine):
        with Session(engine) as session:
            # Read before evaluating: the evaluation reads at least every filing up to this one
            # (tracker.worker.status tells filers their estimates are in from it).
            read_through = latest_accepted_filing_id(session)
        summary = evaluate_after_filings(engine, datetime.now(UTC).date(), actor=actor, settings=settings)
    report = dispatch_pending(engine, settings)
    return {"evaluation": summary.line(), "read_through": read_through, "alerts": report.summary()}
