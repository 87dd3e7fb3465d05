"""Rate limits on filing: token buckets per API token and per provider, kept in the database.

Twenty identical uploads in a second used to make twenty filings, twenty alerts and twenty audit
entries. Each bucket holds up to ``burst`` filings and refills at ``per_minute``; a filing takes
one from every bucket it draws on (its token's and its provider's) or from none, and the caller
answers 429 with the seconds until the emptiest bucket has one again.

The buckets are rows (``rate_bucket``), so every server process and every thread draws from the
same ones: a limit that holds per process would multiply with the processes. Taking costs one
short transaction that locks the rows (PostgreSQL: ``SELECT ... FOR UPDATE`` in key order, so two
takers never deadlock; SQLite: its database lock), far below the cost of the filing it admits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from tracker.config import Settings
from tracker.store.models import RateBucket
from tracker.store.types import utcnow


@dataclass(frozen=True)
class Rate:
    per_minute: float
    burst: int


@dataclass(frozen=True)
class Bucket:
    tokens: float
    updated_at: datetime


def refilled(bucket: Bucket, rate: Rate, now: datetime) -> float:
    """Tokens in the bucket at ``now``: what it held plus the refill since, up to the burst. A clock
    that went back refills nothing (and takes nothing away)."""
    elapsed_s = max((now - bucket.updated_at).total_seconds(), 0.0)
    return min(float(rate.burst), bucket.tokens + elapsed_s * rate.per_minute / 60.0)


def wait_s(tokens: float, rate: Rate) -> float:
    """Seconds until a bucket holding ``tokens`` holds one (0 when it does)."""
    if tokens >= 1.0:
        return 0.0
    if rate.per_minute <= 0:
        return math.inf
    return (1.0 - tokens) * 60.0 / rate.per_minute


def filing_rates(settings: Settings, *, token_prefix: str | None, provider_id: int) -> dict[str, Rate]:
    """The buckets one filing draws on: its API token's (none for the portal) and its provider's."""
    rates = {f"provider:{provider_id}": Rate(settings.provider_filings_per_minute, settings.provider_filing_burst)}
    if token_prefix is not None:
        rates[f"token:{token_prefix}"] = Rate(settings.token_filings_per_minute, settings.token_filing_burst)
    return rates


def take(engine: Engine, rates: dict[str, Rate], now: datetime | None = None) -> float:
    """Take one token from every bucket, or none: 0.0 when taken, else the seconds to wait."""
    now = now or utcnow()
    keys = sorted(rates)
    table = RateBucket.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        postgres = conn.dialect.name == "postgresql"
        insert = postgresql.insert(table) if postgres else sqlite.insert(table)
        # Missing buckets start full; ON CONFLICT DO NOTHING also makes SQLite take its write lock
        # here, before the reads below.
        conn.execute(insert.values([{"key": k, "tokens": float(rates[k].burst), "updated_at": now} for k in keys])
                     .on_conflict_do_nothing(index_elements=["key"]))
        query = sa.select(table.c.key, table.c.tokens, table.c.updated_at).where(table.c.key.in_(keys)) \
            .order_by(table.c.key)
        if postgres:
            query = query.with_for_update()
        held = {key: refilled(Bucket(tokens, at), rates[key], now) for key, tokens, at in conn.execute(query)}
        waits = [wait_s(held[k], rates[k]) for k in keys]
        if max(waits) > 0:
            return max(waits)
        conn.execute(table.update().where(table.c.key == sa.bindparam("k"))
                     .values(tokens=sa.bindparam("t"), updated_at=now),
                     [{"k": k, "t": held[k] - 1.0} for k in keys])
    return 0.0


def retry_after_header(wait: float) -> str:
    """Whole seconds, rounded up, at least one (RFC 9110 delay-seconds)."""
    return str(max(1, math.ceil(wait))) if math.isfinite(wait) else "3600"
