"""The transactional outbox: an alert and its deliveries are written with the change that causes
them, in the caller's transaction, so a change is never committed without its alert and an alert
never exists for a change that rolled back.

The insert is ``INSERT ... ON CONFLICT (idempotency_key) DO NOTHING`` on both backends: a second
enqueue of the same key (a re-run job, a concurrent writer) is a no-op instead of an integrity
error that would poison the caller's transaction, and it needs no savepoint (pysqlite's implicit
transactions make savepoints unreliable as the first statement of a transaction).
"""

from __future__ import annotations

import hashlib
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from tracker.alerts import payload as body_of
from tracker.alerts.subscriptions import configured_sinks, subscribed_sinks, unique
from tracker.config import Settings, get_settings
from tracker.store.models import AISystem, Alert, AlertDelivery, Provider
from tracker.store.types import utcnow

KEY_MAX_CHARS = 128  # Alert.idempotency_key


def normalise_key(key: str) -> str:
    """Keys longer than the column keep a readable prefix and a hash of the whole."""
    if len(key) <= KEY_MAX_CHARS:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: KEY_MAX_CHARS - 33]}:{digest}"


def _insert_alert(session: Session, values: dict[str, Any]) -> int | None:
    dialect = session.get_bind().dialect.name
    table = Alert.__table__  # type: ignore[attr-defined]
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table)
    elif dialect == "sqlite":
        stmt = sqlite.insert(table)
    else:  # pragma: no cover - the tracker supports these two backends only
        raise NotImplementedError(f"outbox insert not implemented for {dialect}")
    stmt = stmt.values(**values).on_conflict_do_nothing(index_elements=["idempotency_key"])
    new_id = session.execute(stmt.returning(table.c.id)).scalar_one_or_none()
    return None if new_id is None else int(new_id)


def enqueue(session: Session, *, kind: str, idempotency_key: str, payload: dict[str, Any],
            provider_id: int | None = None, system_id: int | None = None,
            regime_id: str | None = None, settings: Settings | None = None) -> Alert | None:
    """Add an alert and one pending delivery per sink; None when the key was enqueued before.

    Runs in the caller's session and does not commit. ``payload`` may carry any of the contract
    fields (provider, system, status, training_flop, threshold, deadline, url, ...) and extras
    (``accession`` makes the link point at the filing); the rest is looked up or left null.
    """
    if kind not in body_of.KINDS:
        raise ValueError(f"unknown alert kind {kind!r}; expected one of {', '.join(body_of.KINDS)}")
    settings = settings or get_settings()
    key = normalise_key(idempotency_key)
    system = session.get(AISystem, system_id) if system_id is not None else None
    if provider_id is None and system is not None:
        provider_id = system.provider_id
    provider = session.get(Provider, provider_id) if provider_id is not None else None
    created_at = utcnow()
    alert_id = _insert_alert(session, {
        "idempotency_key": key, "kind": kind, "provider_id": provider_id, "system_id": system_id,
        "regime_id": regime_id, "payload_json": "{}", "created_at": created_at,
    })
    if alert_id is None:
        return None
    body = body_of.complete(
        payload, alert_id=alert_id, kind=kind, idempotency_key=key,
        provider=provider.slug if provider else None, system=system.name if system else None,
        version=system.version if system else None, system_id=system_id, regime=regime_id,
        base_url=settings.base_url, created_at=created_at,
    )
    # No session synchronisation: the ORM would otherwise scan every object in the session for
    # each alert (quadratic over an evaluation's alerts); the row is refreshed below anyway.
    session.execute(sa.update(Alert).where(Alert.id == alert_id)  # type: ignore[arg-type]
                    .values(payload_json=body_of.encode(body))
                    .execution_options(synchronize_session=False))
    sinks = unique([
        *configured_sinks(settings),
        *subscribed_sinks(session, regime_id=regime_id,
                          provider_slug=provider.slug if provider else None, system_id=system_id),
    ])
    for sink in sinks:
        session.add(AlertDelivery(alert_id=alert_id, sink=sink, next_attempt_at=created_at))
    session.flush()
    alert = session.get(Alert, alert_id)
    assert alert is not None  # inserted above, in this transaction
    session.refresh(alert)
    return alert
