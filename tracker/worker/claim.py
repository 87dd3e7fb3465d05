"""Taking one job at a time, under a lease, and letting it go.

A claim is one short transaction that marks the next due job ``running`` with a fresh
``claim_token`` and a lease (``lease_until``); the holder renews the lease while it works
(``renew``) and finishes the job with a statement that names its token (``finish``), so a holder
whose lease ran out, and whose job another worker claimed since, finishes nothing. A job is due
when it is queued and its ``run_after`` has passed, or when it is running under a lease that ran
out (its worker died). Evaluations run one at a time: one is not claimed while another is running
under a live lease.

PostgreSQL: ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)``, so concurrent workers
take different jobs and never wait for each other. SQLite: the same UPDATE without the row lock;
SQLite runs one writer at a time, so the UPDATE is atomic and two workers never take one job.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tracker.store.models import FilingJob, columns
from tracker.store.types import utcnow
from tracker.worker.queue import job_table

RETRY_BACKOFF_S = (5, 30, 120, 600)  # after the 1st, 2nd, 3rd and later failures


class LostClaim(RuntimeError):
    """The job was claimed by another worker after this one's lease ran out: undo, do not finish."""


@dataclass(frozen=True)
class Claimed:
    id: int
    public_id: str
    job_type: str
    token: str
    attempts: int
    max_attempts: int
    provider_id: int | None
    provider_slug: str | None
    disclosure_kind: str | None
    filename: str | None
    channel: str | None
    filed_by: str | None
    spool_path: str | None

    @property
    def exhausted(self) -> bool:
        """Claimed more often than allowed: its worker stopped (was killed) every time."""
        return self.attempts > self.max_attempts


_FIELDS = ("id", "public_id", "job_type", "attempts", "max_attempts", "provider_id", "provider_slug",
           "disclosure_kind", "filename", "channel", "filed_by", "spool_path")


def _due_query(conn: Connection, now: datetime) -> Any:
    j = columns(FilingJob)
    other = job_table().alias("running_evaluation")
    evaluation_running = sa.exists().where(other.c.job_type == "evaluation", other.c.status == "running",
                                           other.c.lease_until >= now)
    due = sa.or_(sa.and_(j.status == "queued", j.run_after <= now),
                 sa.and_(j.status == "running", j.lease_until < now))
    query = (sa.select(j.id).where(due, sa.or_(j.job_type != "evaluation", sa.not_(evaluation_running)))
             .order_by(j.id).limit(1))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=job_table())
    return query.scalar_subquery()


def claim_next(engine: Engine, worker: str, lease_s: float, now: datetime | None = None) -> Claimed | None:
    """Claim the oldest due job for ``worker``, or None when nothing is due."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    j = columns(FilingJob)
    with engine.begin() as conn:
        row = conn.execute(
            job_table().update().where(j.id == _due_query(conn, now))
            .values(status="running", attempts=j.attempts + 1, claim_token=token, claimed_by=worker[:120],
                    lease_until=now + timedelta(seconds=lease_s), started_at=now)
            .returning(*(j[name] for name in _FIELDS))
        ).mappings().first()
    if row is None:
        return None
    return Claimed(token=token, **{name: row[name] for name in _FIELDS})


def _held(claimed: Claimed) -> Any:
    j = columns(FilingJob)
    return sa.and_(j.id == claimed.id, j.claim_token == claimed.token, j.status == "running")


def renew(engine: Engine, claimed: Claimed, lease_s: float) -> bool:
    """Push the lease out; False when the job is no longer this holder's."""
    with engine.begin() as conn:
        changed = conn.execute(job_table().update().where(_held(claimed))
                               .values(lease_until=utcnow() + timedelta(seconds=lease_s))).rowcount
    return bool(changed)


def finish(conn: Connection, claimed: Claimed, status: str, *, accession: str | None = None,
           outcome_json: str | None = None, error: str | None = None) -> None:
    """End the job (``done``, ``rejected`` or ``failed``) inside the caller's transaction; raise
    LostClaim when another worker holds it now, so the caller's transaction is rolled back."""
    changed = conn.execute(job_table().update().where(_held(claimed)).values(
        status=status, finished_at=utcnow(), lease_until=None, accession=accession, outcome_json=outcome_json,
        last_error=error[:4000] if error else None)).rowcount
    if not changed:
        raise LostClaim(f"job {claimed.id} was claimed by another worker after this one's lease ran out")


def retry_later(engine: Engine, claimed: Claimed, error: str, now: datetime | None = None) -> str:
    """After an unexpected failure: queue the job again after a backoff, or give it up as
    ``failed`` once its attempts are spent. Returns the job's new status."""
    now = now or utcnow()
    if claimed.attempts >= claimed.max_attempts:
        with engine.begin() as conn:
            finish(conn, claimed, "failed", error=f"gave up after {claimed.attempts} attempts: {error}")
        return "failed"
    delay_s = RETRY_BACKOFF_S[min(claimed.attempts, len(RETRY_BACKOFF_S)) - 1]
    try:
        with engine.begin() as conn:
            changed = conn.execute(job_table().update().where(_held(claimed)).values(
                status="queued", claim_token=None, lease_until=None, run_after=now + timedelta(seconds=delay_s),
                last_error=error[:4000])).rowcount
    except sa.exc.IntegrityError:
        # An evaluation was queued meanwhile (one queued at a time): it reads every filing this one
        # would have, so this one ends here.
        with engine.begin() as conn:
            finish(conn, claimed, "failed", error=f"{error} (a later queued evaluation covers it)")
        return "failed"
    return "queued" if changed else "lost"
