"""Coverage of the audit log: every row that records a decision has its audit entry.

Deleting an entry breaks the chain; but a row written without its entry (by a code path that
skipped it, or by someone writing the database directly) leaves the chain intact. So the verifier
also looks from the other side: every filing (accepted and rejected), API token (created, revoked),
account (created, disabled), registration event and certificate (issued, revoked, superseded) must
have the entry its code path writes, matched by entity and entity id. Tables not in this database
yet are skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import sqlalchemy as sa
from sqlmodel import Session

from tracker.auth.tokens import UNUSABLE_PASSWORD
from tracker.store.models import AuditEvent

_ENTITIES = frozenset({"filing", "api_token", "user", "registration", "certificate"})


class CoverageCollector:
    """What the log holds for the audited entities, gathered while the chain is walked (one pass)."""

    def __init__(self) -> None:
        self.actions: Counter[tuple[str, str, str]] = Counter()  # (entity, entity_id, action) -> entries
        self.certificate_ids: set[tuple[int, str]] = set()  # (certificate id, action)

    def feed(self, event: AuditEvent) -> None:
        if event.entity not in _ENTITIES:
            return
        self.actions[(event.entity, event.entity_id, event.action)] += 1
        if event.entity == "certificate":
            try:
                certificate_id = json.loads(event.details_json).get("certificate_id")
            except (ValueError, AttributeError):
                return
            if isinstance(certificate_id, int):
                self.certificate_ids.add((certificate_id, event.action))

    def has(self, entity: str, entity_id: object, action: str) -> bool:
        return self.actions[(entity, str(entity_id), action)] > 0


def missing_entries(session: Session, seen: CoverageCollector) -> list[str]:
    """A sentence for each row without its audit entry."""
    tables = set(sa.inspect(session.connection()).get_table_names())
    problems: list[str] = []
    for table, check in _CHECKS:
        if table in tables:
            problems.extend(check(session, seen))
    return problems


def _rows(session: Session, sql: str) -> Iterator[sa.Row]:
    yield from session.connection().execute(sa.text(sql))


def _filings(session: Session, seen: CoverageCollector) -> Iterator[str]:
    for accession, status in _rows(session, "SELECT accession, status FROM filing ORDER BY id"):
        if not seen.has("filing", accession, f"filing.{status}"):
            yield f"filing {accession} ({status}) has no audit entry filing.{status}"


def _tokens(session: Session, seen: CoverageCollector) -> Iterator[str]:
    for token_id, user_id, revoked_at in _rows(session, "SELECT id, user_id, revoked_at FROM api_token ORDER BY id"):
        if not seen.has("api_token", token_id, "token.created"):
            yield f"api_token {token_id} has no audit entry token.created"
        # A role change that moves an account to another provider revokes its tokens in its own entry.
        if revoked_at is not None and not (seen.has("api_token", token_id, "token.revoked")
                                           or seen.has("user", user_id, "user.set_role")):
            yield f"api_token {token_id} is revoked but has no audit entry token.revoked"


def _users(session: Session, seen: CoverageCollector) -> Iterator[str]:
    # A provider's service account is created with its first API token, in that token's entry.
    tokens: dict[int, list[int]] = {}
    for token_id, user_id in _rows(session, "SELECT id, user_id FROM api_token"):
        tokens.setdefault(user_id, []).append(token_id)
    for user_id, username, password_hash, disabled in _rows(
            session, "SELECT id, username, password_hash, disabled FROM app_user ORDER BY id"):
        service = password_hash == UNUSABLE_PASSWORD and any(
            seen.has("api_token", t, "token.created") for t in tokens.get(user_id, []))
        if not (service or seen.has("user", user_id, "user.create")):
            yield f"app_user {user_id} ({username}) has no audit entry user.create"
        if disabled and not seen.has("user", user_id, "user.disable"):
            yield f"app_user {user_id} ({username}) is disabled but has no audit entry user.disable"


def _registration_events(session: Session, seen: CoverageCollector) -> Iterator[str]:
    # One entry per event, on the registration: compare how many of each action each side holds.
    events: dict[tuple[int, str], list[int]] = {}
    for event_id, registration_id, action in _rows(
            session, "SELECT id, registration_id, action FROM registration_event ORDER BY id"):
        events.setdefault((registration_id, action), []).append(event_id)
    for (registration_id, action), ids in events.items():
        audited = seen.actions[("registration", str(registration_id), f"registration.{action}")]
        for event_id in ids[audited:]:
            yield (f"registration_event {event_id} (registration {registration_id}, {action}) has no audit entry "
                   f"registration.{action}")


_CERTIFICATE_ACTIONS = {"revoked": "certificate.revoked", "superseded": "certificate.superseded"}


def _certificates(session: Session, seen: CoverageCollector) -> Iterator[str]:
    for certificate_id, number, status in _rows(
            session, "SELECT id, registration_number, status FROM certificate ORDER BY id"):
        for action in ("certificate.issued", _CERTIFICATE_ACTIONS.get(status)):
            if action and (certificate_id, action) not in seen.certificate_ids:
                yield f"certificate {certificate_id} ({number}, {status}) has no audit entry {action}"


_CHECKS = (("filing", _filings), ("api_token", _tokens), ("app_user", _users),
           ("registration_event", _registration_events), ("certificate", _certificates))
