"""Sign-in and password-change attempts, limited per account and client address in the database.

Each (purpose, account, address) has a token bucket (``attempt_bucket``) holding up to ``burst``
attempts and refilling at ``per_minute``: an attempt takes one before the password is checked, a
success gives the bucket back (deletes the row), so what is counted is failures, and the attempt
after ``burst`` failures waits until one has refilled. The buckets are rows for the same reason as
the filing limits' (``tracker.filing.ratelimit``, whose refill arithmetic this reuses): a limit
counted in one process's memory would multiply with the processes behind the reverse proxy and
reset on every restart. Taking before checking, in one transaction that locks the row, means
concurrent guesses cannot slip past the limit between a check and a count.

A bucket untouched for a whole refill is full, the same as no row, so each taking first deletes a
few such rows (``SKIP LOCKED`` on PostgreSQL: the sweep never waits on a row someone is using);
a username-spraying attack therefore leaves at most about a minute's worth of rows behind.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from tracker.filing.ratelimit import Bucket, Rate, refilled, wait_s
from tracker.store.models import AttemptBucket
from tracker.store.types import utcnow

# Rows deleted per taking: more than a burst of new keys per attempt, so the sweep keeps up.
SWEEP_ROWS = 50


def attempt_key(purpose: str, account: str, address: str) -> str:
    """The bucket's key: a SHA-256 of what it counts, never the username itself."""
    return hashlib.sha256("\x00".join((purpose, account, address)).encode("utf-8")).hexdigest()


def attempt_rate(per_minute: int) -> Rate:
    """``per_minute`` failures in a row, then one more every 60/``per_minute`` seconds."""
    return Rate(per_minute=float(per_minute), burst=per_minute)


def full_after(rate: Rate) -> timedelta:
    """How long an emptied bucket takes to fill up again (longer than that: same as no row)."""
    return timedelta(seconds=rate.burst * 60.0 / rate.per_minute) if rate.per_minute > 0 else timedelta.max


def take(engine: Engine, key: str, rate: Rate, now: datetime | None = None) -> float:
    """Take one attempt from ``key``'s bucket: 0.0 when taken, else the seconds to wait.

    Every bucket of the table is assumed to have ``rate`` (sign-in and password change share the
    setting), which is what lets the sweep judge a row full by its age alone."""
    now = now or utcnow()
    table = AttemptBucket.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        if rate.per_minute > 0:
            stale = (sa.select(table.c.key).where(table.c.updated_at < now - full_after(rate))
                     .order_by(table.c.updated_at).limit(SWEEP_ROWS))
            if postgres:
                stale = stale.with_for_update(skip_locked=True)
            conn.execute(table.delete().where(table.c.key.in_(stale.scalar_subquery())))
        insert = postgresql.insert(table) if postgres else sqlite.insert(table)
        conn.execute(insert.values(key=key, tokens=float(rate.burst), updated_at=now)
                     .on_conflict_do_nothing(index_elements=["key"]))
        query = sa.select(table.c.tokens, table.c.updated_at).where(table.c.key == key)
        if postgres:
            query = query.with_for_update()
        row = conn.execute(query).first()
        # No row: a concurrent sweep removed it between our insert and read, i.e. it was full.
        held = refilled(Bucket(row[0], row[1]), rate, now) if row is not None else float(rate.burst)
        wait = wait_s(held, rate)
        if wait > 0:
            return wait
        conn.execute(table.update().where(table.c.key == key).values(tokens=held - 1.0, updated_at=now))
    return 0.0


def give_back(engine: Engine, key: str) -> None:
    """A successful attempt: the bucket is full again (the row is deleted)."""
    table = AttemptBucket.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        conn.execute(table.delete().where(table.c.key == key))
