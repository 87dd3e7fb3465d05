"""Deadline reminders: 7 days and 1 day before a notification deadline, and once overdue.

Run daily by the scheduler. The idempotency key names the kind, the subject, the regime and the
deadline, so re-running the job (or running it twice in a day) never sends a reminder twice,
while a moved deadline gets reminders of its own.

The job must stay cheap while filings are being evaluated next to it: it reads only the columns
of flags whose deadline is at most 7 days away and not yet notified, drops the reminders whose
key is already in the outbox with one indexed lookup per batch of keys (on most days that is all
of them), and enqueues the rest in short transactions, so it never holds the database's write
lock (SQLite has one) for more than a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.alerts.flags import enqueue_flag_alert
from tracker.alerts.outbox import normalise_key
from tracker.config import Settings
from tracker.store.db import session_scope
from tracker.store.models import Alert, Flag, columns

REMIND_DAYS_AHEAD = 7  # the earliest reminder (deadline_7d)
KEY_CHUNK = 500  # keys per IN (...) lookup
ENQUEUE_BATCH = 100  # reminders per transaction


def reminder_kind(deadline: date, today: date) -> str | None:
    days_left = (deadline - today).days
    if days_left < 0:
        return "overdue"
    if days_left <= 1:
        return "deadline_1d"
    if days_left <= 7:
        return "deadline_7d"
    return None


def reminder_key(kind: str, flag: Flag) -> str:
    return key_for(kind, flag.subject_kind, flag.subject_id, flag.regime_id, flag.deadline)


def key_for(kind: str, subject_kind: str, subject_id: int, regime_id: str, deadline: date | None) -> str:
    return f"{kind}:{subject_kind}:{subject_id}:{regime_id}:{deadline}"


@dataclass(frozen=True)
class Due:
    flag_id: int
    key: str


def due_reminders(rows: Sequence[tuple[int, str, int, str, date]], today: date) -> list[Due]:
    """The reminders due ``today`` for (flag id, subject kind, subject id, regime, deadline) rows. Pure."""
    due = []
    for flag_id, subject_kind, subject_id, regime_id, deadline in rows:
        kind = reminder_kind(deadline, today)
        if kind is not None:
            due.append(Due(flag_id, normalise_key(key_for(kind, subject_kind, subject_id, regime_id, deadline))))
    return due


def _not_yet_enqueued(session: Session, due: list[Due]) -> list[Due]:
    a = columns(Alert)
    keys = [d.key for d in due]
    existing: set[str] = set()
    for start in range(0, len(keys), KEY_CHUNK):
        existing.update(session.execute(
            sa.select(a.idempotency_key).where(a.idempotency_key.in_(keys[start:start + KEY_CHUNK]))
        ).scalars())
    return [d for d in due if d.key not in existing]


def remind_deadlines(engine: Engine, settings: Settings, today: date) -> int:
    """Enqueue the reminders due ``today``; returns how many new alerts were written."""
    f = columns(Flag)
    with Session(engine) as session:
        rows = session.execute(
            sa.select(f.id, f.subject_kind, f.subject_id, f.regime_id, f.deadline)
            .where(f.deadline.is_not(None), f.deadline <= today + timedelta(days=REMIND_DAYS_AHEAD),
                   f.notified_at.is_(None))
            .order_by(f.id)
        ).all()
        missing = _not_yet_enqueued(session, due_reminders([tuple(r) for r in rows], today))
    written = 0
    for start in range(0, len(missing), ENQUEUE_BATCH):
        ids = [d.flag_id for d in missing[start:start + ENQUEUE_BATCH]]
        with session_scope(engine) as session:
            # Re-read each flag in this transaction: an evaluation may have moved its deadline, or
            # the provider notified, since the read above. The key then follows the flag as it is.
            flags = session.exec(select(Flag).where(col(Flag.id).in_(ids)).order_by(col(Flag.id))).all()
            for flag in flags:
                if flag.deadline is None or flag.notified_at is not None:
                    continue
                kind = reminder_kind(flag.deadline, today)
                if kind is None:
                    continue
                alert = enqueue_flag_alert(
                    session, flag, kind=kind, idempotency_key=reminder_key(kind, flag), settings=settings,
                    extra={"days_left": (flag.deadline - today).days},
                )
                written += alert is not None
    return written
