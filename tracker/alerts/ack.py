"""Acknowledging an alert: who saw it and when, in the audit log."""

from __future__ import annotations

from sqlmodel import Session

from tracker.store import audit
from tracker.store.models import Alert
from tracker.store.types import utcnow


class AlertNotFound(LookupError):
    pass


def acknowledge(session: Session, alert_id: int, *, actor: str) -> Alert:
    """Mark the alert acknowledged by ``actor`` (idempotent: the first acknowledgement stands)."""
    alert = session.get(Alert, alert_id, with_for_update=True)
    if alert is None:
        raise AlertNotFound(f"there is no alert {alert_id}")
    if alert.acknowledged_at is not None:
        return alert
    alert.acknowledged_at = utcnow()
    alert.acknowledged_by = actor
    session.add(alert)
    session.flush()
    audit.record(session, actor=actor, action="alert.ack", entity="alert", entity_id=alert_id,
                 details={"kind": alert.kind, "idempotency_key": alert.idempotency_key},
                 at=alert.acknowledged_at)
    return alert
