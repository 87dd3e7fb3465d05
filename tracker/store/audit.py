"""The append-only, hash-chained audit log.

Each entry's hash covers its own content and the previous entry's hash, so editing or deleting
any row behind the application's back breaks the chain at that row and ``verify`` names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from tracker.store.models import AuditEvent
from tracker.store.types import utcnow

GENESIS_HASH = "0" * 64
# Serialises appends on PostgreSQL so two concurrent transactions cannot fork the chain.
_AUDIT_LOCK_KEY = 7_300_251


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, entity: str,
               entity_id: str, details_json: str) -> str:
    body = json.dumps(
        [prev_hash, at.isoformat(timespec="microseconds"), actor, action, entity, entity_id,
         details_json],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _lock_chain(session: Session) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
    else:
        # A write statement makes SQLite take the database write lock now, before we read the
        # chain head, so no other writer can append between our read and our insert.
        session.execute(sa.text("DELETE FROM audit_event WHERE 1 = 0"))


def record(session: Session, *, actor: str, action: str, entity: str, entity_id: str | int,
           details: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEvent:
    """Append one entry inside the caller's transaction (it commits or rolls back with it)."""
    _lock_chain(session)
    head = session.exec(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    prev = head or GENESIS_HASH
    when = at or utcnow()
    details_json = json.dumps(details or {}, sort_keys=True, default=str)
    event = AuditEvent(
        at=when, actor=actor, action=action, entity=entity, entity_id=str(entity_id),
        details_json=details_json, prev_hash=prev,
        hash=entry_hash(prev, when, actor, action, entity, str(entity_id), details_json),
    )
    session.add(event)
    session.flush()
    return event


def record_many(session: Session, entries: list[dict[str, Any]], *, at: datetime | None = None) -> int:
    """Append many entries at once (one chain-head read, one bulk insert), e.g. an evaluation's
    flag transitions. Each entry has keys actor, action, entity, entity_id and optional details."""
    if not entries:
        return 0
    _lock_chain(session)
    head = session.exec(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)).first()  # type: ignore[union-attr]
    prev = head or GENESIS_HASH
    when = at or utcnow()
    rows = []
    for entry in entries:
        details_json = json.dumps(entry.get("details") or {}, sort_keys=True, default=str)
        entity_id = str(entry["entity_id"])
        digest = entry_hash(prev, when, entry["actor"], entry["action"], entry["entity"], entity_id,
                            details_json)
        rows.append({"at": when, "actor": entry["actor"], "action": entry["action"],
                     "entity": entry["entity"], "entity_id": entity_id, "details_json": details_json,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    # Core insert keeps the list order, so ids follow the chain.
    session.execute(sa.insert(AuditEvent), rows)
    return len(rows)


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_broken_id: int | None
    reason: str | None

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None


def iter_events(session: Session, start: datetime | None = None,
                end: datetime | None = None, batch: int = 5000) -> Iterator[AuditEvent]:
    last_id = 0
    while True:
        query = select(AuditEvent).where(AuditEvent.id > last_id)  # type: ignore[operator]
        if start is not None:
            query = query.where(AuditEvent.at >= start)
        if end is not None:
            query = query.where(AuditEvent.at < end)
        rows = session.exec(query.order_by(AuditEvent.id).limit(batch)).all()  # type: ignore[arg-type]
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id or last_id


def verify(session: Session) -> VerifyResult:
    prev = GENESIS_HASH
    checked = 0
    for event in iter_events(session):
        checked += 1
        if event.prev_hash != prev:
            return VerifyResult(checked, event.id, "its prev_hash does not match the entry before it")
        expected = entry_hash(prev, event.at, event.actor, event.action, event.entity,
                              event.entity_id, event.details_json)
        if event.hash != expected:
            return VerifyResult(checked, event.id, "its content does not match its hash")
        prev = event.hash
    return VerifyResult(checked, None, None)
