"""The dispatcher: delivers due outbox rows to their sinks, at least once.

Three short steps per batch, and never a transaction open across network I/O:

1. claim: in one transaction, pick due ``pending`` deliveries (PostgreSQL: ``FOR UPDATE SKIP
   LOCKED``, so concurrent dispatchers take disjoint rows; SQLite: take the database write lock
   first, so claims are serialised), count the attempt and push ``next_attempt_at`` out by a
   lease. A dispatcher that dies after claiming leaves rows that become due again when the lease
   ends, and are sent again with the same Idempotency-Key: at least once, never lost.
2. send, with no database connection held.
3. record: delivered, or retry after backoff, or ``dead`` after MAX_ATTEMPTS (kept, reported).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.alerts import backoff
from tracker.alerts.sinks import DeliveryError, Outgoing, send
from tracker.config import Settings
from tracker.store.db import session_scope
from tracker.store.models import Alert, AlertDelivery
from tracker.store.types import utcnow

log = logging.getLogger(__name__)

CLAIM_BATCH = 10
# Longer than a batch can take to send (10 sends, each bounded by a ~10 s timeout), so a live
# dispatcher's rows are not re-claimed by another one while it is still working on them.
LEASE = timedelta(minutes=5)
REMINDER_KINDS = ("deadline_7d", "deadline_1d", "overdue")


@dataclass(frozen=True)
class Claimed:
    delivery_id: int
    sink: str
    attempts: int
    message: Outgoing


@dataclass
class DispatchReport:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: list[int] = field(default_factory=list)  # delivery ids given up on in this run
    errors: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (f"{self.claimed} due, {self.delivered} delivered, {self.retrying} to retry, "
                f"{len(self.dead)} dead")
        return text + (f" (dead deliveries: {', '.join(map(str, self.dead))})" if self.dead else "")


def _lock_for_claim(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        # A write first makes SQLite take its single write lock now, before we read due rows,
        # so two dispatchers cannot both read the same rows as unclaimed.
        session.execute(sa.text("UPDATE alert_delivery SET id = id WHERE 1 = 0"))


def claim(engine: Engine, now: datetime, limit: int) -> list[Claimed]:
    with session_scope(engine) as session:
        _lock_for_claim(session)
        # Events (a flag changed, a filing was rejected, figures disagree) go before reminders:
        # a backlog of reminders, as after a first evaluation, must not delay news by minutes.
        reminder_last = sa.case((col(Alert.kind).in_(REMINDER_KINDS), 1), else_=0)
        query = (
            select(AlertDelivery)
            .join(Alert, col(Alert.id) == col(AlertDelivery.alert_id))
            .where(AlertDelivery.status == "pending", AlertDelivery.next_attempt_at <= now)
            .order_by(reminder_last, col(AlertDelivery.next_attempt_at), col(AlertDelivery.id))
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=AlertDelivery)
        rows = session.exec(query).all()
        claimed: list[Claimed] = []
        for row in rows:
            row.attempts += 1
            row.next_attempt_at = now + LEASE
            alert = session.get(Alert, row.alert_id)
            assert alert is not None and alert.id is not None and row.id is not None
            claimed.append(Claimed(row.id, row.sink, row.attempts,
                                   Outgoing(alert.id, alert.idempotency_key, alert.payload_json)))
        return claimed


def record_success(engine: Engine, item: Claimed, now: datetime) -> None:
    with session_scope(engine) as session:
        session.execute(
            sa.update(AlertDelivery).where(col(AlertDelivery.id) == item.delivery_id)
            .values(status="delivered", delivered_at=now, last_error=None)
        )


def record_failure(engine: Engine, item: Claimed, now: datetime, error: str) -> bool:
    """Schedule a retry, or mark the delivery dead; True when it is dead."""
    dead = backoff.exhausted(item.attempts)
    values: dict[str, object] = {"last_error": error[:2000]}
    if dead:
        values["status"] = "dead"
    else:
        values["next_attempt_at"] = backoff.next_attempt(now, item.attempts)
    with session_scope(engine) as session:
        session.execute(
            sa.update(AlertDelivery)
            .where(col(AlertDelivery.id) == item.delivery_id, col(AlertDelivery.status) == "pending")
            .values(**values)
        )
    return dead


def dispatch_pending(engine: Engine, settings: Settings, now: datetime | None = None,
                     limit: int = 100) -> DispatchReport:
    """Deliver up to ``limit`` due deliveries; ``now`` pins the clock (tests, replays)."""
    clock: Callable[[], datetime] = (lambda: now) if now is not None else utcnow
    report = DispatchReport()
    while report.claimed < limit:
        batch = claim(engine, clock(), min(CLAIM_BATCH, limit - report.claimed))
        if not batch:
            break
        report.claimed += len(batch)
        for item in batch:
            try:
                send(item.sink, item.message, settings)
            except DeliveryError as exc:
                error = str(exc)
                if record_failure(engine, item, clock(), error):
                    report.dead.append(item.delivery_id)
                    log.error("alert %s to %s is dead after %d attempts: %s",
                              item.message.alert_id, item.sink, item.attempts, error)
                else:
                    report.retrying += 1
                    log.warning("alert %s to %s failed (attempt %d), will retry: %s",
                                item.message.alert_id, item.sink, item.attempts, error)
                report.errors.append(error)
                continue
            record_success(engine, item, clock())
            report.delivered += 1
    return report
