"""Registrations written straight through the models, with confidential values planted in them.

``seed_registrations`` adds, on top of ``factories.seed_world``: acme-lm registered under the
1e25 regime with a valid certificate, acme-lm-chat submitted, rival-secret contested (with a
contest text and an attachment) and the XSS-named system registered with a revoked certificate.
Every confidential value is a distinctive string in ``CONFIDENTIAL`` so that a test can look for
it in a response body: none of them may reach the public register.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from tracker.registration.certificate_format import key_id_of, public_key_pem
from tracker.store.models import (
    Certificate,
    Registration,
    RegistrationAttachment,
    RegistrationEvent,
    RegistrationSubmission,
    SigningKey,
)

# Figures and texts a provider files: confidential. Each appears nowhere else in the test data.
ACME_COMPUTE_FLOP = 3.81234e25
RIVAL_COMPUTE_FLOP = 2.04321e26
CONFIDENTIAL = (
    "3.81234e+25", "38123400000000000000000000", "2.04321e+26", "204321000000000000000000000",
    "acme-contact-7731@example.test", "rival-contact-5519@example.test",
    "RIVAL-CONTEST-ARGUMENT-not-systemic", "rival-model-card-8842.pdf", "a" * 64,
    # the same figures (and the seeded estimates) as the dashboard formats them
    "3.8 × 10²⁵", "2.0 × 10²⁶", "3.8 \\u00d7 10\\u00b2\\u2075", "2.0 \\u00d7 10\\u00b2\\u2076",
)
ACME_NUMBER = "CTR-2026-000101"
XSS_NUMBER = "CTR-2026-000102"


@dataclass
class Registrations:
    ids: dict[str, int] = field(default_factory=dict)
    numbers: dict[str, str] = field(default_factory=dict)


def _registration(session: Session, system_id: int, provider_id: int, regime_id: str, state: str, *,
                  deadline: date, number: str | None = None) -> Registration:
    now = datetime.now(UTC)
    row = Registration(system_id=system_id, provider_id=provider_id, regime_id=regime_id, obligation="notify",
                       state=state, crossed_on=date(2026, 1, 5), deadline=deadline, threshold=1e25,
                       registration_number=number, registered_at=now if number else None)
    session.add(row)
    session.flush()
    session.add(RegistrationEvent(registration_id=row.id or 0, from_state=None, to_state="due", action="open",
                                  actor="system", reason="crossed the threshold", at=now - timedelta(days=3)))
    return row


def _submission(session: Session, registration: Registration, *, kind: str, flop: float, contact: str,
                contest: str | None = None) -> RegistrationSubmission:
    row = RegistrationSubmission(registration_id=registration.id or 0, kind=kind, channel="portal",
                                 submitted_by="factory", compute_flop=flop, compute_method="hardware",
                                 crossed_on=date(2026, 1, 5), contact=contact, contest_text=contest,
                                 record_sha256="b" * 64)
    session.add(row)
    session.flush()
    session.add(RegistrationEvent(registration_id=registration.id or 0, from_state="due", to_state=registration.state,
                                  action=kind, actor="factory", reason=None))
    return row


def _signing_key(session: Session) -> str:
    public = Ed25519PrivateKey.generate().public_key()
    key_id = key_id_of(public)
    session.add(SigningKey(key_id=key_id, public_key=public_key_pem(public)))
    session.flush()
    return key_id


def _certificate(session: Session, registration: Registration, status: str, key_id: str) -> Certificate:
    # The register shows the certificate's status and links to it; the signature is not checked here.
    row = Certificate(registration_id=registration.id or 0, registration_number=registration.registration_number or "",
                      key_id=key_id, body_json="{}", signature="sig", status=status)
    session.add(row)
    session.flush()
    return row


def seed_registrations(session: Session, ids: dict[str, int], regime_id: str = "eu-test-presumption",
                       today: date | None = None) -> Registrations:
    """Registrations for the world ``factories.seed_world`` built (its ``ids``); the caller commits."""
    today = today or date.today()
    out = Registrations()
    registered = _registration(session, ids["big"], ids["acme"], regime_id, "registered",
                               deadline=today - timedelta(days=3), number=ACME_NUMBER)
    _submission(session, registered, kind="notification", flop=ACME_COMPUTE_FLOP,
                contact="acme-contact-7731@example.test")
    session.add(RegistrationEvent(registration_id=registered.id or 0, from_state="submitted", to_state="registered",
                                  action="register", actor="reg", reason="complete notification"))
    key_id = _signing_key(session)
    _certificate(session, registered, "valid", key_id)
    submitted = _registration(session, ids["tuned"], ids["acme"], regime_id, "submitted",
                              deadline=today + timedelta(days=10))
    _submission(session, submitted, kind="notification", flop=3.9e25, contact="acme-contact-7731@example.test")
    contested = _registration(session, ids["secret"], ids["rival"], regime_id, "contested",
                              deadline=today + timedelta(days=5))
    contest = _submission(session, contested, kind="contest", flop=RIVAL_COMPUTE_FLOP,
                          contact="rival-contact-5519@example.test", contest="RIVAL-CONTEST-ARGUMENT-not-systemic")
    session.add(RegistrationAttachment(submission_id=contest.id or 0, filename="rival-model-card-8842.pdf",
                                       media_type="application/pdf", sha256="a" * 64, size_bytes=1234,
                                       stored_path="/nonexistent/attachment"))
    revoked = _registration(session, ids["xss"], ids["rival"], regime_id, "registered",
                            deadline=today + timedelta(days=20), number=XSS_NUMBER)
    _submission(session, revoked, kind="voluntary", flop=5e24, contact="rival-contact-5519@example.test")
    _certificate(session, revoked, "revoked", key_id)
    session.flush()
    out.ids = {"registered": registered.id or 0, "submitted": submitted.id or 0, "contested": contested.id or 0,
               "xss": revoked.id or 0}
    out.numbers = {"registered": ACME_NUMBER, "xss": XSS_NUMBER}
    return out
