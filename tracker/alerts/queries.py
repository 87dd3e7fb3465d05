"""Reading alerts with their delivery state (CLI now, dashboard later), scoped like every list."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from tracker.auth.scope import Scope
from tracker.store.models import Alert, AlertDelivery


@dataclass(frozen=True)
class AlertView:
    alert: Alert
    deliveries: list[AlertDelivery]

    @property
    def body(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.alert.payload_json)
        return loaded

    @property
    def delivery_state(self) -> str:
        """``delivered`` only when every sink has it; ``dead`` wins over ``pending``."""
        states = {d.status for d in self.deliveries}
        if not states:
            return "no sinks"
        for state in ("dead", "pending"):
            if state in states:
                return state
        return "delivered"

    def as_json(self) -> dict[str, Any]:
        return {
            **self.body,
            "acknowledged_at": self.alert.acknowledged_at.isoformat()
            if self.alert.acknowledged_at else None,
            "acknowledged_by": self.alert.acknowledged_by,
            "delivery_state": self.delivery_state,
            "deliveries": [
                {"sink": d.sink, "status": d.status, "attempts": d.attempts,
                 "next_attempt_at": d.next_attempt_at.isoformat(),
                 "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
                 "last_error": d.last_error}
                for d in self.deliveries
            ],
        }


def list_alerts(session: Session, *, scope: Scope | None = None, limit: int = 200,
                unacknowledged_only: bool = False) -> list[AlertView]:
    """Newest first. A provider's scope sees only alerts about its own provider."""
    query = select(Alert).order_by(col(Alert.id).desc()).limit(limit)
    if unacknowledged_only:
        query = query.where(col(Alert.acknowledged_at).is_(None))
    if scope is not None:
        query = scope.restrict(query, Alert.provider_id)
    alerts = session.exec(query).all()
    ids = [a.id for a in alerts]
    deliveries: dict[int, list[AlertDelivery]] = {i: [] for i in ids if i is not None}
    if ids:
        rows = session.exec(select(AlertDelivery).where(col(AlertDelivery.alert_id).in_(ids))
                            .order_by(col(AlertDelivery.id))).all()
        for row in rows:
            deliveries[row.alert_id].append(row)
    return [AlertView(a, deliveries.get(a.id or 0, [])) for a in alerts]


def dead_deliveries(session: Session) -> list[AlertDelivery]:
    return list(session.exec(select(AlertDelivery).where(AlertDelivery.status == "dead")
                             .order_by(col(AlertDelivery.id))).all())
