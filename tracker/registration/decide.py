"""The regulator's decisions on a registration: ``register`` (with the next registration number
of the decision year and a signed certificate), ``request_info`` (the state stays; the provider is
alerted), ``accept_contest`` (not designated) and ``reject``. Each needs a written reason and leaves
an event, an audit entry and an alert.

Registration numbers are ``CTR-YYYY-NNNNNN``, counted per decision year in ``registration_sequence``
by one atomic upsert: on PostgreSQL the row lock it takes makes concurrent decisions wait for
each other, so no number is issued twice and none is skipped by a committed decision.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from tracker.config import Settings, get_settings
from tracker.filing.problems import Problem
from tracker.registration.certificates import issue_certificate, revoke_certificates
from tracker.registration.errors import RegistrationNotFound, RegistrationRejected
from tracker.registration.events import Transition, record_transitions
from tracker.registration.states import DECISIONS, InvalidTransition, next_state
from tracker.registration.submit import check_reason, move, write_lock
from tracker.store.models import Registration, RegistrationSequence
from tracker.store.queries.registrations import registration_row
from tracker.store.types import utcnow


def format_number(year: int, serial: int) -> str:
    return f"CTR-{year:04d}-{serial:06d}"


def next_registration_number(session: Session, year: int) -> str:
    table = RegistrationSequence.__table__  # type: ignore[attr-defined]
    insert: Any = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(table).values(year=year, last_number=1)
    stmt = stmt.on_conflict_do_update(index_elements=["year"],
                                      set_={"last_number": table.c.last_number + 1}).returning(table.c.last_number)
    return format_number(year, int(session.execute(stmt).scalar_one()))


def issue(session: Session, registration: Registration, *, actor: str, settings: Settings) -> None:
    """The signed certificate of a newly registered system."""
    issue_certificate(session, registration, actor=actor, settings=settings)


def revoke(session: Session, registration: Registration, *, reason: str, actor: str) -> None:
    """Revoke the certificates of a registration that stops being registered."""
    assert registration.id is not None
    revoke_certificates(session, registration.id, reason=reason, actor=actor)


def decide(session: Session, registration_id: int, decision: str, reason: str | None, actor: str, *,
           settings: Settings | None = None) -> dict[str, Any]:
    """Apply a regulator's ``decision`` in the caller's transaction (not committed here); returns the
    registration as the lists show it. The caller has checked the actor is a regulator or admin.
    Raises RegistrationRejected (bad decision, reason or transition), RegistrationNotFound."""
    settings = settings or get_settings()
    if decision not in DECISIONS:
        raise RegistrationRejected([Problem(None, "decision", f"is {decision[:40]!r}; expected one of "
                                            f"{', '.join(DECISIONS)}")])
    text = check_reason(reason)
    if not actor.strip():
        raise RegistrationRejected([Problem(None, "by", "is missing; expected the name of who decides")])
    write_lock(session)
    registration = session.exec(select(Registration).where(Registration.id == registration_id)
                                .with_for_update()).first()
    if registration is None:
        raise RegistrationNotFound(f"no registration {registration_id}")
    from_state = registration.state
    try:
        to_state = next_state(from_state, decision)
    except InvalidTransition as exc:
        raise RegistrationRejected([Problem(None, "decision", f"registration {registration_id} is {from_state}: "
                                            f"{exc}")]) from exc
    if decision == "register":
        now = utcnow()
        # A registration registered before (then rejected and submitted again) keeps its number.
        number = registration.registration_number or next_registration_number(session, now.year)
        move(session, registration, to_state, registration_number=number, registered_at=now)
        issue(session, registration, actor=actor[:200], settings=settings)
    elif to_state != from_state:
        move(session, registration, to_state)
        if from_state == "registered":
            revoke(session, registration, reason=text, actor=actor)
    else:
        registration.updated_at = utcnow()  # a request for information: the state stays
        session.add(registration)
        session.flush()
    record_transitions(session, [Transition.of(registration, from_state=from_state, action=decision,
                                               actor=actor[:200], reason=text)], settings)
    row = registration_row(session, registration_id)
    assert row is not None
    return row
