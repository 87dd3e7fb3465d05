"""Verifying the audit log: the chain, its checkpoints, receipt heads and (optionally) coverage.

The checks are pure (``check_checkpoints``, ``ChainWalk``) over what ``verify_log`` reads: the
entries in id order, the checkpoint rows, and the checkpoint file outside the database. Every
finding is a sentence naming the entry or checkpoint, what is wrong and what it means.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlmodel import Session

from tracker.config import Settings, get_settings
from tracker.store import audit, checkpoints
from tracker.store.audit_coverage import CoverageCollector, missing_entries
from tracker.store.audit_key import AuditKey, load_audit_key
from tracker.store.checkpoints import GENESIS_MAC, Checkpoint
from tracker.store.models import AuditEvent


@dataclass(frozen=True)
class VerifyResult:
    checked: int
    first_broken_id: int | None  # the first entry whose link or hash fails
    reason: str | None  # the first finding, in a sentence
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    head: tuple[int, str] | None = None  # the chain's last entry: id, hash
    checkpoints_checked: int = 0

    @property
    def ok(self) -> bool:
        return self.first_broken_id is None and not self.problems


@dataclass
class CheckpointFindings:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    targets: list[Checkpoint] = field(default_factory=list)  # to compare with the chain


def check_checkpoints(in_db: Sequence[Checkpoint], in_file: Sequence[Checkpoint], chain: str | None,
                      key: AuditKey, *, foreign_is_problem: bool) -> CheckpointFindings:
    """Each checkpoint's MAC and link; the file against the database. Lines of another chain in
    the file are other databases' (a shared development file), or this log rebuilt from its first
    entry: a problem where the file serves one database only (production)."""
    found = CheckpointFindings()
    prev_mac = GENESIS_MAC
    for cp in in_db:
        if chain is not None and cp.chain != chain:
            found.problems.append(f"{cp.describe()} belongs to another chain (first entry {cp.chain[:16]}…, "
                                  f"this log's is {chain[:16]}…): the log was rebuilt from its first entry")
        elif not _mac_checked(cp, key, "", found):
            pass
        elif cp.prev_mac != prev_mac:
            found.problems.append(f"{cp.describe()} does not follow the checkpoint before it in the database: "
                                  "checkpoints between them were removed")
        else:
            found.targets.append(cp)
        prev_mac = cp.mac
    db_macs = {cp.mac for cp in in_db}
    mine = [cp for cp in in_file if cp.chain == chain]
    foreign = len(in_file) - len(mine)
    for cp in mine:
        if not _mac_checked(cp, key, " in the checkpoint file", found):
            continue
        if cp.mac not in db_macs:
            found.problems.append(f"{cp.describe()} is in the checkpoint file but not in the database: "
                                  "its row was deleted")
            found.targets.append(cp)  # the file still says what the chain held then
    file_macs = {cp.mac for cp in mine}
    unfiled = [cp for cp in in_db if cp.mac not in file_macs]
    if unfiled:
        found.notes.append(f"{len(unfiled)} checkpoint(s) of the database are not in the checkpoint file "
                           f"(first: {unfiled[0].describe()}): written while the file was unavailable, or the "
                           "file lost lines")
    if foreign:
        sentence = (f"the checkpoint file holds {foreign} checkpoint(s) of other chains (another database, or "
                    "this log rebuilt from its first entry)")
        (found.problems if foreign_is_problem else found.notes).append(sentence)
    return found


def _mac_checked(cp: Checkpoint, key: AuditKey, where: str, found: CheckpointFindings) -> bool:
    if cp.key_id != key.key_id:
        found.problems.append(f"{cp.describe()}{where} was made under audit key {cp.key_id}, not the configured "
                              f"key {key.key_id}: its MAC cannot be checked")
        return False
    if not checkpoints.mac_holds(cp, key):
        found.problems.append(f"{cp.describe()}{where}: its content does not match its MAC (edited)")
        return False
    return True


class ChainWalk:
    """Walks the entries in id order: links, hashes under each entry's version, versions only
    moving forward, and what the checkpoints and receipts say the chain held."""

    def __init__(self, key: AuditKey, targets: Sequence[Checkpoint], receipt_heads: Sequence[tuple[int, str]]):
        self.key = key
        self.prev = audit.GENESIS_HASH
        self.checked = 0
        self.last_id = 0
        self.max_version = 0
        self.first_broken_id: int | None = None
        self.first_reason: str | None = None
        self.problems: list[str] = []
        self.targets: dict[int, list[Checkpoint]] = {}
        for cp in targets:
            self.targets.setdefault(cp.last_event_id, []).append(cp)
        self.heads = dict(receipt_heads)
        self.heads_seen: set[int] = set()

    def _broken(self, event: AuditEvent, reason: str) -> None:
        if self.first_broken_id is None:  # later breaks follow from the first
            self.first_broken_id, self.first_reason = event.id, reason
            self.problems.append(f"audit chain broken at entry {event.id}: {reason}")

    def feed(self, event: AuditEvent) -> None:
        self.checked += 1
        event_id = event.id or 0
        if event.prev_hash != self.prev:
            self._broken(event, "its prev_hash does not match the entry before it (an entry before it was "
                                "deleted, or this one inserted)")
        expected = audit.expected_hash(event, self.prev, self.key)
        if expected is None:
            self._broken(event, f"its chain_version {event.chain_version} is not one this tracker writes (1 or 2)")
        elif not hmac.compare_digest(expected, event.hash):
            rule = "hash" if event.chain_version == audit.PLAIN else f"keyed hash (HMAC, audit key {self.key.key_id})"
            self._broken(event, f"its content does not match its {rule}")
        if event.chain_version < self.max_version:
            self._broken(event, "it is an unkeyed (version 1) entry after keyed ones: only the entries written "
                                "before the keyed chain may be version 1")
        self.max_version = max(self.max_version, event.chain_version)
        for cp in self.targets.pop(event_id, []):
            if event.hash != cp.last_hash:
                self.problems.append(f"{cp.describe()} records entry {event_id} with hash {cp.last_hash[:16]}…; "
                                     f"the entry now has {event.hash[:16]}…: it was rewritten")
            elif self.checked != cp.event_count:
                self.problems.append(f"{cp.describe()} records entry {event_id} as the chain's entry number "
                                     f"{cp.event_count}; it is now number {self.checked}: "
                                     f"{abs(cp.event_count - self.checked)} entries before it were "
                                     f"{'removed' if self.checked < cp.event_count else 'inserted'}")
        if event_id in self.heads:
            self.heads_seen.add(event_id)
            if event.hash != self.heads[event_id]:
                self.problems.append(f"the receipt's audit head, entry {event_id}, held hash "
                                     f"{self.heads[event_id][:16]}…; the entry now has {event.hash[:16]}…: "
                                     "it was rewritten")
        self.prev = event.hash
        self.last_id = event_id

    def finish(self) -> list[str]:
        """The checkpoints and receipt heads the walk never reached: removed entries."""
        problems = list(self.problems)
        beyond = [cp for cps in self.targets.values() for cp in cps if cp.last_event_id > self.last_id]
        if beyond:
            newest = max(beyond, key=lambda cp: (cp.event_count, cp.last_event_id))
            removed = max(newest.event_count - self.checked, 1)
            problems.append(f"the chain ends at entry {self.last_id} with {self.checked} entries, but "
                            f"{newest.describe()} records entry {newest.last_event_id} as entry number "
                            f"{newest.event_count}: the last {removed} {'entry' if removed == 1 else 'entries'} "
                            f"(after entry {self.last_id}, up to entry {newest.last_event_id}) "
                            f"{'was' if removed == 1 else 'were'} removed")
        for cps in self.targets.values():
            for cp in cps:
                if cp.last_event_id <= self.last_id:
                    problems.append(f"{cp.describe()} records entry {cp.last_event_id}, which is no longer in the "
                                    "chain: it was deleted")
        for event_id in sorted(set(self.heads) - self.heads_seen):
            problems.append(f"the receipt's audit head, entry {event_id}, is not in the chain: it was removed"
                            + (" (with the entries after it)" if event_id > self.last_id else ""))
        return problems


def verify_log(session: Session, *, coverage: bool = False, receipt_heads: Sequence[tuple[int, str]] = (),
               settings: Settings | None = None) -> VerifyResult:
    settings = settings or get_settings()
    key = load_audit_key(settings)
    in_db = checkpoints.in_database(session)
    in_file, bad_lines = checkpoints.read_file(settings.audit_checkpoint_path)
    chain = checkpoints.chain_id(session)
    found = check_checkpoints(in_db, in_file, chain, key, foreign_is_problem=settings.environment == "production")
    walk = ChainWalk(key, found.targets, receipt_heads)
    collector = CoverageCollector() if coverage else None
    for event in audit.iter_events(session):
        walk.feed(event)
        if collector is not None:
            collector.feed(event)
    problems = found.problems + bad_lines + walk.finish()
    if collector is not None:
        problems += missing_entries(session, collector)
    notes = list(found.notes)
    if not settings.audit_checkpoint_path.exists():
        notes.append(f"no checkpoint file at {settings.audit_checkpoint_path}: truncation below the newest "
                     "checkpoint rests on the database's own checkpoint rows")
    head = (walk.last_id, walk.prev) if walk.checked else None
    return VerifyResult(checked=walk.checked, first_broken_id=walk.first_broken_id,
                        reason=walk.first_reason or (problems[0] if problems else None), problems=tuple(problems),
                        notes=tuple(notes), head=head, checkpoints_checked=len(found.targets))
