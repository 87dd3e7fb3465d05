"""Registration certificates in the store: issue, revoke, supersede on amendment, look up.

The document format and the signature are pure (``certificate_format``); this module gathers the
facts from the database, signs with the configured key (``keys``), keeps the status of every
certificate, audits each change and alerts through the outbox (kind ``certificate``), all in the
caller's transaction.

A certificate names the registration and binds its full record by hash (``record_sha256``):
the registration row, its submissions with their own record hashes, and the SHA-256 of every
filing that holds the system's current training runs. The compute figure a provider submitted
is confidential: it is inside the submission hashes, never in the body.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.config import Settings, get_settings
from tracker.registration import certificate_format as fmt
from tracker.registration.keys import LoadedKey, SigningKeyError, load_signing_key, publish, published_keys
from tracker.registry.inputs import chunked
from tracker.store import audit
from tracker.store.models import (
    AISystem,
    Certificate,
    Filing,
    Provider,
    Regime,
    Registration,
    RegistrationSubmission,
    TrainingRun,
    columns,
)
from tracker.store.types import utcnow

log = logging.getLogger(__name__)
NUMBER_PATTERN = re.compile(r"CTR-[0-9]{4}-[0-9]{6}")  # ASCII digits: \d would match "１" too
VALID, REVOKED, SUPERSEDED = "valid", "revoked", "superseded"
REGISTERED = "registered"
IN_CHUNK = 500
# The public reason category of a revocation, from the registration's state when it happens.
_CATEGORY_OF_STATE = {"withdrawn": "withdrawn", "rejected": "rejected"}


class CertificateError(ValueError):
    """A certificate cannot be issued for this registration; the message says why."""


def is_registration_number(text: str) -> bool:
    return bool(NUMBER_PATTERN.fullmatch(text))


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _registration_fields(registration: Registration) -> dict[str, Any]:
    # updated_at is left out: it moves on every touch and would change the hash without a change.
    return {
        "id": registration.id, "system_id": registration.system_id, "provider_id": registration.provider_id,
        "regime_id": registration.regime_id, "obligation": registration.obligation, "state": registration.state,
        "voluntary": registration.voluntary, "crossed_on": _iso(registration.crossed_on),
        "deadline": _iso(registration.deadline), "threshold": registration.threshold,
        "registration_number": registration.registration_number,
        "registered_at": _iso(registration.registered_at), "opened_at": _iso(registration.opened_at),
    }


def record_sha256(session: Session, registration: Registration) -> str:
    """The SHA-256 of the registration's full record as it stands now."""
    sub = columns(RegistrationSubmission)
    submissions = [
        {"id": i, "kind": kind, "channel": channel, "submitted_at": _iso(at), "record_sha256": digest}
        for i, kind, channel, at, digest in session.execute(
            sa.select(sub.id, sub.kind, sub.channel, sub.submitted_at, sub.record_sha256)
            .where(sub.registration_id == registration.id).order_by(sub.id))
    ]
    run, filing = columns(TrainingRun), columns(Filing)
    filings = session.execute(
        sa.select(filing.sha256).distinct().join_from(filing.id.table, run.id.table, run.filing_id == filing.id)
        .where(run.system_id == registration.system_id, run.is_current.is_(True))).scalars().all()
    return fmt.record_digest(_registration_fields(registration), submissions, [str(s) for s in filings])


def _body(session: Session, registration: Registration, *, key_id: str, issued_at: datetime,
          settings: Settings) -> dict[str, Any]:
    system = session.get(AISystem, registration.system_id)
    provider = session.get(Provider, registration.provider_id)
    regime = session.get(Regime, registration.regime_id)
    if system is None or provider is None or regime is None:
        raise CertificateError(f"registration {registration.id} points at a missing system, provider or regime")
    threshold = registration.threshold if registration.threshold is not None else regime.threshold
    return {
        "format": fmt.FORMAT,
        "registration_number": registration.registration_number,
        "provider": {"slug": provider.slug, "name": provider.name},
        "system": system.name,
        "version": system.version or None,
        "regime": {"id": regime.id, "jurisdiction": regime.jurisdiction, "instrument": regime.instrument,
                   "metric": regime.metric, "threshold": threshold},
        "crossed_on": _iso(registration.crossed_on),
        "registered_at": _iso(registration.registered_at),
        "issued_at": _iso(issued_at),
        "issuer": settings.issuer,
        "key_id": key_id,
        "record_sha256": record_sha256(session, registration),
    }


def _valid_certificate(session: Session, registration_id: int) -> Certificate | None:
    return session.exec(select(Certificate).where(Certificate.registration_id == registration_id,
                                                  Certificate.status == VALID)
                        .order_by(col(Certificate.id).desc())).first()


def _alert(session: Session, certificate: Certificate, registration: Registration, event: str) -> None:
    from tracker.alerts.outbox import enqueue

    enqueue(session, kind="certificate", idempotency_key=f"certificate:{event}:{certificate.id}",
            provider_id=registration.provider_id, system_id=registration.system_id,
            regime_id=registration.regime_id, payload={
                "status": event, "registration_number": certificate.registration_number,
                "certificate_id": certificate.id, "key_id": certificate.key_id,
                "superseded_by_id": certificate.superseded_by_id, "reason_category": certificate.status_category,
            })


def _sign_new(session: Session, registration: Registration, key: LoadedKey, *, actor: str,
              settings: Settings) -> Certificate:
    publish(session, key, actor=actor)
    issued_at = utcnow().replace(microsecond=0)  # the body says seconds; the row must say the same
    body = _body(session, registration, key_id=key.key_id, issued_at=issued_at, settings=settings)
    assert registration.id is not None and registration.registration_number is not None
    certificate = Certificate(
        registration_id=registration.id, registration_number=registration.registration_number,
        key_id=key.key_id, body_json=fmt.canonical_json(body).decode("utf-8"),
        signature=fmt.sign_body(body, key.private_key), issued_at=issued_at, status=VALID)
    session.add(certificate)
    session.flush()
    return certificate


def issue_certificate(session: Session, registration: Registration, *, actor: str = "system",
                      settings: Settings | None = None) -> Certificate:
    """Sign a certificate for a registered registration (in the caller's transaction).

    Idempotent: if its valid certificate still matches the record, that one is returned; if the
    record changed since, the old one is superseded by the new one.
    """
    settings = settings or get_settings()
    if registration.id is None or registration.state != REGISTERED or not registration.registration_number:
        raise CertificateError(f"registration {registration.id} is {registration.state!r} without a registration "
                               "number; only a registered registration gets a certificate")
    current = _valid_certificate(session, registration.id)
    if current is not None and json.loads(current.body_json).get("record_sha256") == record_sha256(
            session, registration):
        return current
    certificate = _sign_new(session, registration, load_signing_key(settings), actor=actor, settings=settings)
    audit.record(session, actor=actor, action="certificate.issued", entity="certificate",
                 entity_id=certificate.registration_number, details={
                     "certificate_id": certificate.id, "registration_id": registration.id,
                     "key_id": certificate.key_id, "record_sha256": json.loads(certificate.body_json)["record_sha256"]})
    _alert(session, certificate, registration, "issued")
    if current is not None:
        _mark_superseded(session, current, registration, certificate, actor=actor)
    return certificate


def _mark_superseded(session: Session, old: Certificate, registration: Registration, new: Certificate | None,
                     *, actor: str, reason: str = "the registration record changed") -> None:
    old.status, old.status_category, old.status_reason = SUPERSEDED, "amended", reason
    old.status_at = utcnow()
    old.superseded_by_id = new.id if new is not None else None
    session.add(old)
    session.flush()
    audit.record(session, actor=actor, action="certificate.superseded", entity="certificate",
                 entity_id=old.registration_number, details={
                     "certificate_id": old.id, "superseded_by_id": old.superseded_by_id, "reason": reason})
    _alert(session, old, registration, SUPERSEDED)


def revoke_certificates(session: Session, registration_id: int, reason: str, actor: str) -> list[Certificate]:
    """Revoke the registration's valid certificate(s): on withdrawal or rejection. The reason text
    stays with the regulator; the public revocation list shows its category only."""
    registration = session.get(Registration, registration_id)
    if registration is None:
        raise CertificateError(f"no registration {registration_id}")
    category = _CATEGORY_OF_STATE.get(registration.state, "revoked")
    revoked = list(session.exec(select(Certificate).where(Certificate.registration_id == registration_id,
                                                          Certificate.status == VALID)).all())
    now = utcnow()
    for certificate in revoked:
        certificate.status, certificate.status_category = REVOKED, category
        certificate.status_reason, certificate.status_at = reason, now
        session.add(certificate)
        session.flush()
        audit.record(session, actor=actor, action="certificate.revoked", entity="certificate",
                     entity_id=certificate.registration_number, details={
                         "certificate_id": certificate.id, "registration_id": registration_id,
                         "category": category, "reason": reason})
        _alert(session, certificate, registration, REVOKED)
    return revoked


def supersede_on_amendment(session: Session, system_ids: Iterable[int], actor: str,
                           settings: Settings | None = None) -> list[Certificate]:
    """After an accepted filing changed these systems' training runs: every valid certificate of
    theirs is superseded by a new one carrying the new record hash. The new certificates, in the
    caller's (the filing's) transaction.

    One query per 500 systems finds the few that hold a valid certificate, so a large filing of
    unregistered systems costs next to nothing. A signing key that cannot be loaded must not
    refuse the provider's filing: the old certificate is then superseded without a successor
    (it no longer describes the record) and the error is logged for the operator.
    """
    touched = sorted({int(s) for s in system_ids})
    if not touched:
        return []
    found: list[tuple[Certificate, Registration]] = []
    for part in chunked(touched, IN_CHUNK):
        found += [(c, r) for c, r in session.exec(
            select(Certificate, Registration).join(Registration, col(Registration.id) == Certificate.registration_id)
            .where(Certificate.status == VALID, col(Registration.system_id).in_(part))
            # Locked, and re-checked once locked (PostgreSQL): a withdrawal or rejection decided
            # meanwhile wins, and its revoked certificate is not reissued here.
            .order_by(col(Certificate.id)).with_for_update()).all()]
    if not found:
        return []
    settings = settings or get_settings()
    try:
        key: LoadedKey | None = load_signing_key(settings)
    except SigningKeyError as exc:
        log.error("certificates of %d registration(s) superseded without a successor: %s", len(found), exc)
        key = None
    issued: list[Certificate] = []
    for old, registration in found:
        if key is None or registration.state != REGISTERED or not registration.registration_number:
            _mark_superseded(session, old, registration, None, actor=actor,
                             reason="the registration record changed; no new certificate could be signed")
            continue
        if json.loads(old.body_json).get("record_sha256") == record_sha256(session, registration):
            continue  # nothing the certificate binds changed
        new = _sign_new(session, registration, key, actor=actor, settings=settings)
        audit.record(session, actor=actor, action="certificate.issued", entity="certificate",
                     entity_id=new.registration_number, details={
                         "certificate_id": new.id, "registration_id": registration.id, "key_id": new.key_id,
                         "record_sha256": json.loads(new.body_json)["record_sha256"], "replaces": old.id})
        _alert(session, new, registration, "issued")
        _mark_superseded(session, old, registration, new, actor=actor,
                         reason="an accepted filing amended the system's training runs")
        issued.append(new)
    return issued


# --- reading ---------------------------------------------------------------------------------


def document_of(certificate: Certificate) -> dict[str, Any]:
    """The certificate file, exactly as signed."""
    return fmt.document(json.loads(certificate.body_json), certificate.signature)


def current_certificate(session: Session, number: str) -> Certificate | None:
    """The newest certificate of a registration number, whatever its status."""
    if not is_registration_number(number):
        return None
    return session.exec(select(Certificate).where(Certificate.registration_number == number)
                        .order_by(col(Certificate.id).desc())).first()


def status_on_record(session: Session, doc: Any) -> str | None:
    """The issuer's status of exactly this document (matched by number and signature), or
    ``not on record``; None when the document is too malformed to look up."""
    try:
        number = doc["certificate"]["registration_number"]
        signature = doc["signature"]["value"]
    except (KeyError, TypeError):
        return None
    if not isinstance(number, str) or not isinstance(signature, str) or not is_registration_number(number):
        return None
    rows = session.exec(select(Certificate.signature, Certificate.status)
                        .where(Certificate.registration_number == number)).all()
    return next((str(status) for sig, status in rows if sig == signature), fmt.NOT_ON_RECORD)


def verify_with_records(session: Session, doc: Any) -> fmt.Verdict:
    """Verify against the published keys and the certificate's status in this database."""
    return fmt.verify_document(doc, published_keys(session), status_on_record(session, doc))


def revocation_list(session: Session) -> list[dict[str, Any]]:
    """Every certificate no longer valid, public fields only (no reason text)."""
    rows = session.exec(select(Certificate).where(col(Certificate.status).in_((REVOKED, SUPERSEDED)))
                        .order_by(col(Certificate.status_at), col(Certificate.id))).all()
    return [{"registration_number": c.registration_number, "key_id": c.key_id, "status": c.status,
             "reason_category": c.status_category, "issued_at": _iso(c.issued_at), "status_at": _iso(c.status_at)}
            for c in rows]
