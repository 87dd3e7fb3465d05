"""The registration's states and the only transitions between them. Pure.

``due`` (an obligation opened by an evaluation) -> ``submitted`` (notified) -> ``registered``;
a provider may contest instead (``contested``: the EU AI Act Art. 52(2) arguments that the model
does not present systemic risk despite meeting the threshold), which the regulator settles as
``registered``, ``not_designated`` or ``rejected``. A provider may withdraw at any point before a
final decision, and a registered system too. Every other move is refused with a sentence.
"""

from __future__ import annotations

STATES = ("due", "submitted", "contested", "registered", "not_designated", "rejected", "withdrawn")
# Submitted or contested: a regulator decision is pending.
PENDING = ("submitted", "contested")
# Submitting (or contesting) meets the notification deadline.
NOTIFIED = ("submitted", "contested", "registered", "not_designated", "rejected", "withdrawn")

# Flag statuses that open an obligation (the tracker's CROSSING).
CROSSING_STATUSES = ("above", "likely_above")

PROVIDER_ACTIONS = ("submit", "contest", "supplement", "resubmit", "withdraw")
DECISIONS = ("register", "request_info", "accept_contest", "reject")

# (state, action) -> the state after it. ``open`` and ``voluntary`` start a registration (no state before).
TRANSITIONS: dict[tuple[str | None, str], str] = {
    (None, "open"): "due",
    (None, "voluntary"): "submitted",
    ("due", "submit"): "submitted",
    ("due", "contest"): "contested",
    ("submitted", "contest"): "contested",
    # An answer to a request for information, or further documents: the state stays.
    ("submitted", "supplement"): "submitted",
    ("contested", "supplement"): "contested",
    # A refused or withdrawn registration may be submitted again (the obligation does not go away).
    ("rejected", "resubmit"): "submitted",
    ("withdrawn", "resubmit"): "submitted",
    ("submitted", "register"): "registered",
    ("contested", "register"): "registered",
    ("submitted", "request_info"): "submitted",
    ("contested", "request_info"): "contested",
    ("contested", "accept_contest"): "not_designated",
    ("submitted", "reject"): "rejected",
    ("contested", "reject"): "rejected",
    ("registered", "reject"): "rejected",  # de-registration: the certificate is revoked
    ("due", "withdraw"): "withdrawn",
    ("submitted", "withdraw"): "withdrawn",
    ("contested", "withdraw"): "withdrawn",
    ("registered", "withdraw"): "withdrawn",
}


class InvalidTransition(ValueError):
    """An action the registration's current state does not allow; the message says what would."""


def allowed_actions(state: str | None) -> list[str]:
    return [action for (source, action) in TRANSITIONS if source == state]


def next_state(state: str | None, action: str) -> str:
    """The state ``action`` leads to from ``state``, or InvalidTransition naming what is allowed."""
    target = TRANSITIONS.get((state, action))
    if target is not None:
        return target
    allowed = allowed_actions(state)
    where = f"a registration in state {state!r}" if state else "a new registration"
    expected = f"expected one of: {', '.join(allowed)}" if allowed else "no action is allowed in this state"
    raise InvalidTransition(f"{action!r} is not allowed on {where}; {expected}")


def submission_action(state: str | None, *, contest: bool) -> str:
    """What a provider's submission does to a registration in ``state`` (None: none exists yet)."""
    if state is None:
        return "voluntary"
    if state in ("rejected", "withdrawn"):
        return "resubmit"
    if contest and state in ("due", "submitted"):
        return "contest"
    if state in PENDING:
        return "supplement"
    return "submit"
