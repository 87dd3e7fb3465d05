"""A provider withdraws its own registration: from any state before a final decision, and a
registered one too, whose certificate is then revoked. Another provider's registration answers
exactly like a missing one."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.config import Settings, get_settings
from tracker.filing.problems import Problem
from tracker.registration.errors import RegistrationNotFound, RegistrationRejected
from tracker.registration.events import Transition, record_transitions
from tracker.registration.states import InvalidTransition, next_state
from tracker.registration.submit import check_reason, move, transaction, write_lock
from tracker.store.models import Provider, Registration
from tracker.store.queries.registrations import registration_row


def withdraw_registration(target: Engine | Session, registration_id: int, *, provider: str, actor: str,
                          reason: str | None = None, settings: Settings | None = None) -> dict[str, Any]:
    """The provider withdraws its own registration (another provider's answers like a missing one)."""
    settings = settings or get_settings()
    text = check_reason(reason) if reason else None
    with transaction(target) as session:
        write_lock(session)
        registration = session.exec(select(Registration).join(Provider, Provider.id == Registration.provider_id)  # type: ignore[arg-type]
                                    .where(Registration.id == registration_id, Provider.slug == provider)
                                    .with_for_update()).first()
        if registration is None:
            raise RegistrationNotFound(f"no registration {registration_id} of provider {provider}")
        from_state = registration.state
        try:
            to_state = next_state(from_state, "withdraw")
        except InvalidTransition as exc:
            raise RegistrationRejected([Problem(None, "state", f"registration {registration_id} is {from_state}: "
                                                f"{exc}")]) from exc
        move(session, registration, to_state)
        if from_state == "registered":
            from tracker.registration.decide import revoke

            revoke(session, registration, reason=text or "withdrawn by the provider", actor=actor)
        record_transitions(session, [Transition.of(registration, from_state=from_state, action="withdraw",
                                                   actor=actor, reason=text)], settings)
        row = registration_row(session, registration_id)
    assert row is not None
    return row
