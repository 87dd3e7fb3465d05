"""Alerts about a flag (status changes and deadlines): the flag already holds the triage facts."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from tracker.alerts.outbox import enqueue
from tracker.config import Settings
from tracker.store.models import Alert, ComputeCluster, Flag


def flag_payload(flag: Flag) -> dict[str, Any]:
    return {
        "regime": flag.regime_id,
        "status": flag.status,
        "projected": flag.projected,
        "training_flop": {"central": flag.value_central, "low": flag.value_low,
                          "high": flag.value_high},
        "threshold": flag.threshold,
        "deadline": flag.deadline,
        "crossed_on": flag.crossed_on,
        "subject_kind": flag.subject_kind,
        "subject_id": flag.subject_id,
        "reason": flag.reason,
    }


def enqueue_flag_alert(session: Session, flag: Flag, *, kind: str, idempotency_key: str,
                       settings: Settings | None = None,
                       extra: dict[str, Any] | None = None) -> Alert | None:
    """Enqueue an alert about ``flag`` (a system's or a cluster's) in the caller's transaction."""
    provider_id: int | None = None
    system_id: int | None = None
    if flag.subject_kind == "system":
        system_id = flag.subject_id
    elif flag.subject_kind == "cluster":
        cluster = session.get(ComputeCluster, flag.subject_id)
        provider_id = cluster.provider_id if cluster else None
    return enqueue(session, kind=kind, idempotency_key=idempotency_key,
                   payload={**flag_payload(flag), **(extra or {})}, provider_id=provider_id,
                   system_id=system_id, regime_id=flag.regime_id, settings=settings)
