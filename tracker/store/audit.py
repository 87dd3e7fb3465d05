"""The append-only, hash-chained audit log.

Each entry's hash covers its own content and the previous entry's hash, so editing or deleting
any row behind the application's back breaks the chain at that row and ``verify`` names it.

Entries are versioned (``chain_version``). Version 1, the entries written before the keyed chain,
is a plain SHA-256 that anyone can recompute: rewriting a row and every later hash used to verify.
Version 2 is an HMAC-SHA256 under the audit key (``tracker.store.audit_key``), which is kept out of
the database, so a rewrite needs the key. Truncation, which no chain shows by itself, is caught by
the checkpoints (``tracker.store.checkpoints``) and by the heads printed on filing receipts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.config import get_settings
from tracker.store import checkpoints
from tracker.store.audit_key import AuditKey, load_audit_key
from tracker.store.models import AuditEvent
from tracker.store.types import utcnow

if TYPE_CHECKING:
    from tracker.store.audit_verify import VerifyResult

GENESIS_HASH = "0" * 64
PLAIN = 1  # chain_version of the entries written before the keyed chain
KEYED = 2
# The registry-wide moments a regulator refers back to: the head is checkpointed right there.
CHECKPOINT_ACTIONS = frozenset({"evaluation.run"})
# Serialises appends on PostgreSQL so two concurrent transactions cannot fork the chain.
_AUDIT_LOCK_KEY = 7_300_251


def entry_hash(prev_hash: str, at: datetime, actor: str, action: str, entity: str,
               entity_id: str, details_json: str) -> str:
    """Version 1 (plain SHA-256): only for verifying the entries written before the keyed chain."""
    body = json.dumps(
        [prev_hash, at.isoformat(timespec="microseconds"), actor, action, entity, entity_id,
         details_json],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(body.encode()).hexdigest()


def keyed_entry_hash(secret: bytes, prev_hash: str, at: datetime, actor: str, action: str, entity: str,
                     entity_id: str, details_json: str) -> str:
    """Version 2: HMAC-SHA256 under the audit key. The version is inside the MAC, so an entry
    cannot be passed off as another version without the key."""
    body = json.dumps(
        ["v2", prev_hash, at.isoformat(timespec="microseconds"), actor, action, entity, entity_id, details_json],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


def expected_hash(event: AuditEvent, prev_hash: str, key: AuditKey) -> str | None:
    """What the entry's hash must be under its version's rule (None for an unknown version)."""
    if event.chain_version == PLAIN:
        return entry_hash(prev_hash, event.at, event.actor, event.action, event.entity, event.entity_id,
                          event.details_json)
    if event.chain_version == KEYED:
        return keyed_entry_hash(key.secret, prev_hash, event.at, event.actor, event.action, event.entity,
                                event.entity_id, event.details_json)
    return None


def _lock_chain(session: Session) -> None:
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _AUDIT_LOCK_KEY})
    else:
        # A write statement makes SQLite take the database write lock now, before we read the
        # chain head, so no other writer can append between our read and our insert.
        session.execute(sa.text("DELETE FROM audit_event WHERE 1 = 0"))


def _head(session: Session) -> tuple[int, str]:
    """The last entry's id and hash (0 and the genesis hash while the log is empty)."""
    row = session.exec(select(AuditEvent.id, AuditEvent.hash).order_by(col(AuditEvent.id).desc()).limit(1)).first()
    return (int(row[0] or 0), row[1]) if row is not None else (0, GENESIS_HASH)


def _checkpoint_if_due(session: Session, key: AuditKey, *, before_id: int, head_id: int, head_hash: str,
                       actions: set[str]) -> None:
    settings = get_settings()
    every = settings.audit_checkpoint_every
    if actions & CHECKPOINT_ACTIONS:
        reason = "evaluation"
    elif head_id // every > before_id // every:  # ids are not dense on PostgreSQL: crossing a multiple
        reason = "interval"
    else:
        return
    checkpoints.write(session, key, reason=reason, head_id=head_id, head_hash=head_hash,
                      path=settings.audit_checkpoint_path)


def record(session: Session, *, actor: str, action: str, entity: str, entity_id: str | int,
           details: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEvent:
    """Append one entry inside the caller's transaction (it commits or rolls back with it)."""
    key = load_audit_key()  # before the lock: a missing key in production fails without waiting
    _lock_chain(session)
    head_id, prev = _head(session)
    when = at or utcnow()
    details_json = json.dumps(details or {}, sort_keys=True, default=str)
    event = AuditEvent(
        at=when, actor=actor, action=action, entity=entity, entity_id=str(entity_id),
        details_json=details_json, prev_hash=prev, chain_version=KEYED,
        hash=keyed_entry_hash(key.secret, prev, when, actor, action, entity, str(entity_id), details_json),
    )
    session.add(event)
    session.flush()
    _checkpoint_if_due(session, key, before_id=head_id, head_id=event.id or 0, head_hash=event.hash,
                       actions={action})
    return event


def record_many(session: Session, entries: list[dict[str, Any]], *, at: datetime | None = None) -> int:
    """Append many entries at once (one chain-head read, one bulk insert), e.g. an evaluation's
    flag transitions. Each entry has keys actor, action, entity, entity_id and optional details."""
    if not entries:
        return 0
    key = load_audit_key()
    _lock_chain(session)
    head_id, prev = _head(session)
    when = at or utcnow()
    rows = []
    for entry in entries:
        details_json = json.dumps(entry.get("details") or {}, sort_keys=True, default=str)
        entity_id = str(entry["entity_id"])
        digest = keyed_entry_hash(key.secret, prev, when, entry["actor"], entry["action"], entry["entity"],
                                  entity_id, details_json)
        rows.append({"at": when, "actor": entry["actor"], "action": entry["action"],
                     "entity": entry["entity"], "entity_id": entity_id, "details_json": details_json,
                     "prev_hash": prev, "hash": digest, "chain_version": KEYED})
        prev = digest
    # A bulk write keeps the list order, so ids follow the chain: COPY on PostgreSQL (an evaluation's
    # first run audits ~10^5 crossings; a multi-row INSERT spent most of its time parsing the statement).
    import polars as pl

    from tracker.store.bulk import insert_frame

    insert_frame(session.connection(), AuditEvent.__table__, pl.DataFrame(rows, schema={  # type: ignore[attr-defined]
        "at": pl.Datetime("us", "UTC"), "actor": pl.String, "action": pl.String, "entity": pl.String,
        "entity_id": pl.String, "details_json": pl.String, "prev_hash": pl.String, "hash": pl.String,
        "chain_version": pl.Int64}))
    # One query per batch, not per entry: under the chain lock the newest id is this batch's last.
    # (RETURNING the ids in order made a 100k batch 2-4x slower: it defeats batched VALUES.)
    last_id = session.exec(select(sa.func.max(AuditEvent.id))).one()
    _checkpoint_if_due(session, key, before_id=head_id, head_id=int(last_id or 0), head_hash=prev,
                       actions={str(e["action"]) for e in entries})
    return len(rows)


def head_of(event: AuditEvent) -> dict[str, Any]:
    """The evidence a receipt carries: the entry that recorded the filing, the chain's head then."""
    return {"id": event.id, "hash": event.hash}


def entry_for(session: Session, entity: str, entity_id: str) -> dict[str, Any] | None:
    """The first audit entry of one entity (e.g. a filing, for re-issuing its receipt)."""
    row = session.exec(select(AuditEvent.id, AuditEvent.hash)
                       .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
                       .order_by(col(AuditEvent.id)).limit(1)).first()
    return {"id": int(row[0] or 0), "hash": row[1]} if row is not None else None


def checkpoint_now(session: Session, reason: str) -> checkpoints.Checkpoint | None:
    """Checkpoint the current head inside the caller's transaction (the daily job, the CLI);
    None when the log is empty or the newest checkpoint already records this head."""
    key = load_audit_key()
    _lock_chain(session)
    head_id, head_hash = _head(session)
    newest = checkpoints.latest(session)
    if head_id == 0 or (newest is not None and newest.last_event_id == head_id and newest.last_hash == head_hash):
        return None
    return checkpoints.write(session, key, reason=reason, head_id=head_id, head_hash=head_hash,
                             path=get_settings().audit_checkpoint_path)


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


def verify(session: Session, *, coverage: bool = False,
           receipt_heads: Sequence[tuple[int, str]] = ()) -> VerifyResult:
    """Check the chain, its checkpoints (database and file) and, with ``coverage``, that every
    audited kind of row has its entry; see ``tracker.store.audit_verify``."""
    from tracker.store.audit_verify import verify_log

    return verify_log(session, coverage=coverage, receipt_heads=receipt_heads)
