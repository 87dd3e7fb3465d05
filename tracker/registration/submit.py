"""A provider's submission (notification, contest, further information, voluntary registration)
and withdrawal: the shell every channel (CLI, API, portal) calls.

The submission is checked whole before anything is stored (``validate.check_submission``); the
system is looked up among the submitting provider's own systems only, so a missing system and
another provider's get the same answer. Submitting or contesting meets the notification deadline:
the flag's ``notified_at`` is set in the same transaction and the dashboard summaries refreshed,
so the flag stops being overdue and the reminders stop.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.config import Settings, get_settings
from tracker.filing.problems import Problem
from tracker.registration.attachments import StoredAttachment, store_attachment
from tracker.registration.errors import RegistrationConflict, RegistrationNotFound, RegistrationRejected
from tracker.registration.events import Transition, record_transitions
from tracker.registration.states import CROSSING_STATUSES, InvalidTransition, next_state, submission_action
from tracker.registration.validate import Attachment, SubmissionInput, bad_characters, check_submission, record_sha256
from tracker.registry.status import refresh_system_status
from tracker.store.db import session_scope
from tracker.store.models import (
    AISystem,
    Flag,
    Provider,
    Regime,
    Registration,
    RegistrationAttachment,
    RegistrationSubmission,
    columns,
)
from tracker.store.queries.registrations import registration_row
from tracker.store.types import utcnow

# The errors are importable from here too: the portal pages import them with submit_registration.
__all__ = ["CHANNELS", "RegistrationConflict", "RegistrationNotFound", "RegistrationRejected", "check_reason",
           "mark_notified", "move", "submit", "submit_registration", "transaction", "write_lock"]

CHANNELS = ("cli", "api", "portal")
REASON_MAX_CHARS = 10_000


@contextmanager
def transaction(target: Engine | Session) -> Iterator[Session]:
    """The caller's transaction when given a session (not committed here), else a new one."""
    if isinstance(target, Session):
        yield target
        target.flush()
        return
    with session_scope(target) as session:
        yield session


def _provider_system(session: Session, submission: SubmissionInput) -> tuple[Provider, AISystem]:
    provider = session.exec(select(Provider).where(Provider.slug == submission.provider)).first()
    system = None if provider is None else session.exec(select(AISystem).where(
        AISystem.provider_id == provider.id, AISystem.name == submission.system,
        AISystem.version == submission.version)).first()
    if provider is None or system is None:
        raise RegistrationRejected([Problem(None, "system", f"no system {submission.system_label} of provider "
                                            f"{submission.provider}; expected one of the provider's filed systems")])
    return provider, system


def _regime(session: Session, regime_id: str, settings: Settings) -> Regime:
    found = session.get(Regime, regime_id)
    if found is None:
        # Regimes are stored by the first evaluation; a voluntary registration may come before it.
        from tracker.registry.pipeline import default_regimes, sync_regimes

        if any(r.id == regime_id for r in default_regimes(settings)):
            sync_regimes(session, default_regimes(settings), actor="system")
            found = session.get(Regime, regime_id)
    if found is None:
        raise RegistrationRejected([Problem(None, "regime", f"no regime {regime_id[:80]!r}; expected a regime id "
                                            "of data/regimes.yaml, such as eu-aia-gpaisr-presumption")])
    return found


def write_lock(session: Session) -> None:
    """On SQLite, take the database's write lock before reading what will be changed: a transaction
    that read first and writes after another writer committed fails there instead of waiting.
    (PostgreSQL locks the rows read FOR UPDATE instead.)"""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(sa.text("DELETE FROM registration_sequence WHERE 1 = 0"))


def _locked(session: Session, system_id: int, regime_id: str) -> Registration | None:
    return session.exec(select(Registration).where(
        Registration.system_id == system_id, Registration.regime_id == regime_id).with_for_update()).first()


def _crossing_flag(session: Session, system_id: int, regime_id: str) -> Flag | None:
    return session.exec(select(Flag).where(
        Flag.subject_kind == "system", Flag.subject_id == system_id, Flag.regime_id == regime_id,
        Flag.status.in_(CROSSING_STATUSES))).first()  # type: ignore[attr-defined]


def _create(session: Session, values: dict[str, Any]) -> Registration | None:
    """Insert unless the (system, regime) pair has a registration by now (then None)."""
    table = Registration.__table__  # type: ignore[attr-defined]
    insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    new_id = session.execute(insert(table).values(**values).on_conflict_do_nothing(
        index_elements=["system_id", "regime_id"]).returning(table.c.id)).scalar_one_or_none()
    return None if new_id is None else session.get(Registration, new_id)


def move(session: Session, registration: Registration, to_state: str, **values: Any) -> None:
    """Set the new state only if nobody changed the registration since it was read."""
    table = Registration.__table__  # type: ignore[attr-defined]
    done = session.execute(sa.update(table).where(table.c.id == registration.id, table.c.state == registration.state)
                           .values(state=to_state, updated_at=utcnow(), **values))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise RegistrationConflict(f"registration {registration.id} changed while this request was handled; "
                                   "reload it and try again")
    session.refresh(registration)


def mark_notified(session: Session, system_id: int, regime_id: str, by: str) -> None:
    """Record that the notification was made: the flag stops being overdue, the reminders stop."""
    f = columns(Flag)
    done = session.execute(sa.update(f.id.table).where(
        f.subject_kind == "system", f.subject_id == system_id, f.regime_id == regime_id, f.notified_at.is_(None)
    ).values(notified_at=utcnow(), notified_by=by[:200]))
    if done.rowcount:  # type: ignore[attr-defined]
        refresh_system_status(session, [system_id])


def submit(target: Engine | Session, submission: SubmissionInput, *, channel: str, submitted_by: str,
           settings: Settings | None = None, today: date | None = None) -> dict[str, Any]:
    """Store ``submission`` and move its registration; returns the registration as the lists show it.
    Raises RegistrationRejected (input), RegistrationConflict (a concurrent change)."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {', '.join(CHANNELS)}")
    settings = settings or get_settings()
    today = today or datetime.now(UTC).date()
    problems = check_submission(submission, today, settings.registration_attachment_max_bytes)
    if problems:
        raise RegistrationRejected(problems)
    with transaction(target) as session:
        registration_id = _submit(session, submission, channel=channel, submitted_by=submitted_by,
                                  settings=settings)
        row = registration_row(session, registration_id)
    assert row is not None  # written above, in this transaction
    return row


def submit_registration(target: Engine | Session, *, provider: str, system: str, regime: str, channel: str,
                        submitted_by: str, version: str = "", compute_flop: float | None = None,
                        compute_method: str | None = None, crossed_on: date | None = None,
                        contact: str | None = None, contest_text: str | None = None,
                        attachments: Sequence[Attachment] = (), voluntary: bool = False,
                        settings: Settings | None = None, today: date | None = None) -> dict[str, Any]:
    """``submit`` with keyword arguments: what the portal calls."""
    return submit(target, SubmissionInput(
        provider=provider, system=system, version=version, regime=regime, compute_flop=compute_flop,
        compute_method=compute_method, crossed_on=crossed_on, contact=contact, contest_text=contest_text,
        voluntary=voluntary, attachments=tuple(attachments)), channel=channel, submitted_by=submitted_by,
        settings=settings, today=today)


def _open_registration(session: Session, submission: SubmissionInput, provider: Provider, system: AISystem,
                       regime: Regime) -> tuple[Registration | None, list[Transition]]:
    """The (system, regime) registration, locked; opened now if the system crossed and the
    evaluation has not opened it yet (with its ``open`` transition); None: nothing is open."""
    assert provider.id is not None and system.id is not None
    registration = _locked(session, system.id, regime.id)
    transitions: list[Transition] = []
    if registration is None and not submission.voluntary and regime.obligation:
        flag = _crossing_flag(session, system.id, regime.id)
        if flag is not None:
            registration = _create(session, {
                "system_id": system.id, "provider_id": provider.id, "regime_id": regime.id,
                "obligation": regime.obligation, "state": "due", "voluntary": False, "crossed_on": flag.crossed_on,
                "deadline": flag.deadline, "threshold": flag.threshold, "opened_at": utcnow(),
                "updated_at": utcnow()}) or _locked(session, system.id, regime.id)
            if registration is not None and registration.state == "due":
                transitions.append(Transition.of(registration, from_state=None, action="open", actor="system"))
    if registration is not None and submission.voluntary and not registration.voluntary:
        due = f" (due by {registration.deadline.isoformat()})" if registration.deadline else ""
        raise RegistrationRejected([Problem(None, "voluntary", f"an obligation under {regime.id} is open for "
                                            f"{submission.system_label}{due}; expected the submission without "
                                            "voluntary: it is the notification")])
    return registration, transitions


def _submit(session: Session, submission: SubmissionInput, *, channel: str, submitted_by: str,
            settings: Settings) -> int:
    write_lock(session)
    provider, system = _provider_system(session, submission)
    assert provider.id is not None and system.id is not None
    regime = _regime(session, submission.regime, settings)
    registration, transitions = _open_registration(session, submission, provider, system, regime)
    if registration is None:
        registration = _create(session, {
            "system_id": system.id, "provider_id": provider.id, "regime_id": regime.id, "obligation": "voluntary",
            "state": "submitted", "voluntary": True, "crossed_on": submission.crossed_on, "deadline": None,
            "threshold": regime.threshold, "opened_at": utcnow(), "updated_at": utcnow()})
        if registration is None:
            raise RegistrationConflict(f"a registration of {submission.system_label} under {regime.id} was opened "
                                       "while this one was submitted; submit again")
        from_state, action = None, "voluntary"
    else:
        if registration.voluntary and submission.contest_text:
            raise RegistrationRejected([Problem(None, "contest", "a voluntary registration cannot be contested; "
                                                "expected a submission without contest arguments")])
        from_state = registration.state
        action = submission_action(from_state, contest=bool(submission.contest_text))
        try:
            to_state = next_state(from_state, action)
        except InvalidTransition as exc:
            raise RegistrationRejected([Problem(None, "state", _refusal(registration, str(exc)))]) from exc
        if to_state != from_state:
            move(session, registration, to_state)
    assert registration.id is not None
    # Files only once the submission is known to be accepted: a refused one leaves nothing on disk.
    stored = [store_attachment(a, settings) for a in submission.attachments]
    _store_submission(session, registration.id, submission, stored, action=action, channel=channel,
                      submitted_by=submitted_by)
    if not registration.voluntary:
        mark_notified(session, system.id, regime.id, submitted_by)
    transitions.append(Transition.of(registration, from_state=from_state, action=action, actor=submitted_by))
    record_transitions(session, transitions, settings)
    return registration.id


def _refusal(registration: Registration, detail: str) -> str:
    if registration.state == "registered":
        return (f"registration {registration.id} is already registered ({registration.registration_number}); "
                "expected a withdrawal first, or amended disclosures through filing")
    return f"registration {registration.id} is {registration.state}: {detail}"


_KIND_OF_ACTION = {"voluntary": "voluntary", "contest": "contest", "supplement": "information"}


def _store_submission(session: Session, registration_id: int, submission: SubmissionInput,
                      stored: list[StoredAttachment], *, action: str, channel: str, submitted_by: str) -> None:
    kind = _KIND_OF_ACTION.get(action, "notification")
    fields: dict[str, Any] = {"registration_id": registration_id, "kind": kind, "channel": channel,
              "submitted_by": submitted_by[:200], "submitted_at": utcnow(), "compute_flop": submission.compute_flop,
              "compute_method": submission.compute_method or None, "crossed_on": submission.crossed_on,
              "contact": submission.contact or None, "contest_text": submission.contest_text or None}
    digest = record_sha256({k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in fields.items()},
                           [a.public() for a in stored])
    row = RegistrationSubmission(**fields, record_sha256=digest)
    session.add(row)
    session.flush()
    assert row.id is not None
    session.add_all([RegistrationAttachment(submission_id=row.id, filename=a.filename, media_type=a.media_type,
                                            sha256=a.sha256, size_bytes=a.size_bytes, stored_path=a.stored_path)
                     for a in stored])
    session.flush()


def check_reason(reason: str | None, field: str = "reason") -> str:
    """A decision's or withdrawal's written reason, refused when empty, too long or not plain text."""
    text = (reason or "").strip()
    if not text:
        raise RegistrationRejected([Problem(None, field, "is missing; expected a written reason")])
    if len(text) > REASON_MAX_CHARS:
        raise RegistrationRejected([Problem(None, field, f"has {len(text)} characters; expected at most "
                                            f"{REASON_MAX_CHARS}")])
    bad = bad_characters(text, multiline=True)
    if bad:
        raise RegistrationRejected([Problem(None, field, f"contains {bad}; expected plain text")])
    return text
