"""Checkpoints of the audit chain: its head, MACed, in the database and in a file outside it.

A hash chain alone cannot show that its last entries were deleted: the shortened chain is still a
valid chain. A checkpoint records the head at a moment (the last entry's id and hash, and how many
entries the chain held up to it), MACed with the audit key and chained to the checkpoint before it.
Each is also appended, once its transaction commits, to a JSON-lines file outside the database
(``TRACKER_AUDIT_CHECKPOINT_PATH``): deleting audit rows below the newest checkpoint, or deleting the
checkpoint rows themselves, then shows when the chain is verified.

Checkpoints are written every ``TRACKER_AUDIT_CHECKPOINT_EVERY`` entries and at every evaluation (by
``tracker.store.audit.record``), daily by the scheduler, and on demand (``tracker audit checkpoint``).
Each line names its chain (the hash of the chain's first entry): one file may serve several databases
(development, tests), and a line of another chain is not a line of this one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlmodel import Session, col, select

from tracker.store.audit_key import AuditKey
from tracker.store.models import AuditCheckpoint, AuditEvent
from tracker.store.types import utcnow

log = logging.getLogger(__name__)
GENESIS_MAC = "0" * 64
_PENDING = "audit_checkpoint_lines"


@dataclass(frozen=True)
class Checkpoint:
    id: int
    at: str  # ISO 8601 with microseconds, as MACed
    last_event_id: int
    last_hash: str
    event_count: int
    chain: str
    reason: str
    key_id: str
    prev_mac: str
    mac: str

    def line(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    def describe(self) -> str:
        return f"checkpoint {self.id} ({self.at}, {self.reason})"


def checkpoint_mac(secret: bytes, *, at: str, last_event_id: int, last_hash: str, event_count: int, chain: str,
                   reason: str, key_id: str, prev_mac: str) -> str:
    body = json.dumps(["checkpoint-v1", at, last_event_id, last_hash, event_count, chain, reason, key_id, prev_mac],
                      separators=(",", ":"), ensure_ascii=True)
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()


def mac_holds(checkpoint: Checkpoint, key: AuditKey) -> bool:
    expected = checkpoint_mac(key.secret, at=checkpoint.at, last_event_id=checkpoint.last_event_id,
                              last_hash=checkpoint.last_hash, event_count=checkpoint.event_count,
                              chain=checkpoint.chain, reason=checkpoint.reason, key_id=checkpoint.key_id,
                              prev_mac=checkpoint.prev_mac)
    return hmac.compare_digest(expected, checkpoint.mac)


def from_row(row: AuditCheckpoint) -> Checkpoint:
    return Checkpoint(id=row.id or 0, at=_iso(row.at), last_event_id=row.last_event_id, last_hash=row.last_hash,
                      event_count=row.event_count, chain=row.chain, reason=row.reason, key_id=row.key_id,
                      prev_mac=row.prev_mac, mac=row.mac)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="microseconds")


def write(session: Session, key: AuditKey, *, reason: str, head_id: int, head_hash: str,
          path: Path) -> Checkpoint:
    """Record the head ``head_id``/``head_hash`` inside the caller's transaction, which must hold
    the chain lock (``tracker.store.audit``), so that no entry lands between the count and the
    insert. The file copy is written only if the transaction commits."""
    prev = latest(session)
    count_query = select(sa.func.count()).select_from(AuditEvent).where(col(AuditEvent.id) <= head_id)
    if prev is not None and prev.last_event_id <= head_id:
        # Counting only what came after the previous checkpoint keeps a checkpoint cheap on a long log.
        since = session.exec(count_query.where(col(AuditEvent.id) > prev.last_event_id)).one()
        count = prev.event_count + int(since)
    else:
        count = int(session.exec(count_query).one())
    chain = prev.chain if prev is not None else chain_id(session) or head_hash
    at = _iso(utcnow())
    prev_mac = prev.mac if prev is not None else GENESIS_MAC
    mac = checkpoint_mac(key.secret, at=at, last_event_id=head_id, last_hash=head_hash, event_count=count,
                         chain=chain, reason=reason, key_id=key.key_id, prev_mac=prev_mac)
    row = AuditCheckpoint(at=datetime.fromisoformat(at), last_event_id=head_id, last_hash=head_hash,
                          event_count=count, chain=chain, reason=reason, key_id=key.key_id, prev_mac=prev_mac,
                          mac=mac)
    session.add(row)
    session.flush()
    checkpoint = from_row(row)
    _append_after_commit(session, path, checkpoint.line())
    return checkpoint


def chain_id(session: Session) -> str | None:
    """This database's chain: the hash of its first entry (None while the log is empty)."""
    return session.exec(select(AuditEvent.hash).order_by(col(AuditEvent.id)).limit(1)).first()


def _append_after_commit(session: Session, path: Path, line: str) -> None:
    pending: list[tuple[Path, str]] = session.info.setdefault(_PENDING, [])
    if not pending and not session.info.get(_PENDING + ":listening"):
        sa_event.listen(session, "after_commit", _write_pending)
        sa_event.listen(session, "after_rollback", _drop_pending)
        session.info[_PENDING + ":listening"] = True
    pending.append((path, line))


def _write_pending(session: Session) -> None:
    pending: list[tuple[Path, str]] = session.info.pop(_PENDING, [])
    for path, line in pending:
        try:
            append_line(path, line)
        except OSError as exc:
            # The database row stands (verify notes a checkpoint missing from the file); failing here,
            # after the commit, could only lose the caller's result.
            log.error("audit checkpoint not copied to %s: %s; the database holds it: %s", path, exc, line)


def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


def append_line(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write() of one line on an O_APPEND descriptor: concurrent writers never interleave a line.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_file(path: Path) -> tuple[list[Checkpoint], list[str]]:
    """The file's checkpoints, and a sentence for each line that is not one (line N: why)."""
    if not path.exists():
        return [], []
    found: list[Checkpoint] = []
    bad: list[str] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                found.append(_parse(json.loads(text)))
            except (ValueError, TypeError, KeyError) as exc:
                bad.append(f"{path} line {number}: not a checkpoint ({exc}); expected one JSON object per line")
    return found, bad


def _parse(data: Any) -> Checkpoint:
    if not isinstance(data, dict):
        raise TypeError("a JSON object is expected")
    ints = ("id", "last_event_id", "event_count")
    texts = ("at", "last_hash", "chain", "reason", "key_id", "prev_mac", "mac")
    values: dict[str, Any] = {}
    for name in ints:
        if type(data[name]) is not int:
            raise TypeError(f"{name} is not an integer")
        values[name] = data[name]
    for name in texts:
        if not isinstance(data[name], str):
            raise TypeError(f"{name} is not text")
        values[name] = data[name]
    return Checkpoint(**values)


def latest(session: Session) -> AuditCheckpoint | None:
    return session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.id).desc()).limit(1)).first()


def in_database(session: Session) -> list[Checkpoint]:
    rows = session.exec(select(AuditCheckpoint).order_by(col(AuditCheckpoint.id))).all()
    return [from_row(r) for r in rows]
