"""Deadline reminders: 7 days and 1 day before a notification deadline, and once overdue.

Run daily by the scheduler. The idempotency key names the kind, the subject, the regime and the
deadline, so re-running the job (or running it twice in a day) never sends a reminder twice,
while a moved deadline gets reminders of its own.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine
from sqlmodel import col, select

from tracker.alerts.flags import enqueue_flag_alert
from tracker.config import Settings
from tracker.store.db import session_scope
from tracker.store.models import Flag


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
    return f"{kind}:{flag.subject_kind}:{flag.subject_id}:{flag.regime_id}:{flag.deadline}"


def remind_deadlines(engine: Engine, settings: Settings, today: date) -> int:
    """Enqueue the reminders due ``today``; returns how many new alerts were written."""
    written = 0
    with session_scope(engine) as session:
        flags = session.exec(
            select(Flag).where(col(Flag.deadline).is_not(None), col(Flag.notified_at).is_(None))
            .order_by(col(Flag.id))
        ).all()
        for flag in flags:
            assert flag.deadline is not None
            kind = reminder_kind(flag.deadline, today)
            if kind is None:
                continue
            alert = enqueue_flag_alert(
                session, flag, kind=kind, idempotency_key=reminder_key(kind, flag), settings=settings,
                extra={"days_left": (flag.deadline - today).days},
            )
            written += alert is not None
    return written
