"""Every registration transition leaves three traces in the caller's transaction: a
``RegistrationEvent`` (the history shown with the registration), an audit entry (the hash chain)
and an alert through the outbox (kind ``registration``). Written in batches: an evaluation opens
many obligations at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import polars as pl
from sqlmodel import Session

from tracker.alerts.links import link_base_url
from tracker.alerts.outbox import AlertRequest, enqueue_many
from tracker.alerts.payload import registration_payload
from tracker.config import Settings
from tracker.store import audit
from tracker.store.bulk import insert_frame
from tracker.store.models import Registration, RegistrationEvent
from tracker.store.types import utcnow


@dataclass(frozen=True)
class Transition:
    """One move of one registration, with the registration's facts after it."""

    registration_id: int
    system_id: int
    provider_id: int
    regime_id: str
    obligation: str
    voluntary: bool
    threshold: float | None
    deadline: date | None
    registration_number: str | None
    from_state: str | None
    to_state: str
    action: str
    actor: str
    reason: str | None = None

    @classmethod
    def of(cls, registration: Registration, *, from_state: str | None, action: str, actor: str,
           reason: str | None = None) -> Transition:
        assert registration.id is not None  # flushed before its history is written
        return cls(registration.id, registration.system_id, registration.provider_id, registration.regime_id,
                   registration.obligation, registration.voluntary, registration.threshold, registration.deadline,
                   registration.registration_number, from_state, registration.state, action, actor, reason)


def record_transitions(session: Session, transitions: Sequence[Transition], settings: Settings,
                       at: datetime | None = None) -> int:
    """Write the events, audit entries and alerts of ``transitions``; returns how many."""
    if not transitions:
        return 0
    when = at or utcnow()
    events = pl.DataFrame(
        [(t.registration_id, t.from_state, t.to_state, t.action, t.actor, t.reason) for t in transitions],
        schema={"registration_id": pl.Int64, "from_state": pl.String, "to_state": pl.String, "action": pl.String,
                "actor": pl.String, "reason": pl.String}, orient="row",
    ).with_columns(pl.lit(when).dt.replace_time_zone("UTC").alias("at"))
    # COPY on PostgreSQL: an evaluation may open tens of thousands at once.
    insert_frame(session.connection(), RegistrationEvent.__table__, events)  # type: ignore[attr-defined]
    audit.record_many(session, [
        {"actor": t.actor, "action": f"registration.{t.action}", "entity": "registration",
         "entity_id": t.registration_id,
         "details": {"system_id": t.system_id, "regime": t.regime_id, "from": t.from_state, "to": t.to_state,
                     "reason": t.reason, "registration_number": t.registration_number}}
        for t in transitions
    ], at=when)
    stamp = when.isoformat(timespec="microseconds")
    enqueue_many(session, [
        AlertRequest(
            # A (system, regime) opens one registration, once: its key names the pair, not the row id
            # or the instant, so a subset evaluation writes the same key as a whole-registry one. Later
            # moves happen at most once per transaction and instant, so that key is unique per event
            # without reading its id back.
            kind="registration",
            idempotency_key=(f"registration:open:{t.system_id}:{t.regime_id}" if t.action == "open" else
                             f"registration:{t.registration_id}:{t.action}:{t.to_state}:{stamp}"),
            payload=registration_payload(
                state=t.to_state, action=t.action, registration_id=t.registration_id, regime=t.regime_id,
                threshold=t.threshold, deadline=t.deadline, registration_number=t.registration_number,
                obligation=t.obligation, voluntary=t.voluntary, reason=t.reason, base_url=link_base_url(settings)),
            provider_id=t.provider_id, system_id=t.system_id, regime_id=t.regime_id)
        for t in transitions
    ], settings)
    return len(transitions)
