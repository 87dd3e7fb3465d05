"""Registrations as the views read them: lists within the caller's scope, the regulator's review
queue, one registration with its history, and the public register.

The public register is the only anonymous read: it selects its public columns by name (never a
whole row), so no confidential field (the provider's compute figure and method, contact, contest
arguments, attachments, reasons) can reach it by a later change to the tables. A provider's
scope sees its own registrations only; another provider's answers like a missing one (None).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.models import (
    AISystem,
    Certificate,
    Flag,
    Provider,
    Regime,
    Registration,
    RegistrationAttachment,
    RegistrationEvent,
    RegistrationSubmission,
    columns,
)
from tracker.store.queries.common import MAX_PAGE_ROWS, Row

SEARCH_MAX_CHARS = 100


def _base(today: date) -> Any:
    r, s, p = columns(Registration), columns(AISystem), columns(Provider)
    return (sa.select(r.id, p.slug.label("provider"), p.name.label("provider_name"), s.name.label("system"),
                      s.version, r.regime_id.label("regime"), r.state, r.registration_number, r.deadline,
                      r.obligation, r.voluntary, r.crossed_on, r.threshold, r.opened_at, r.registered_at,
                      r.updated_at, r.system_id, r.provider_id,
                      sa.and_(r.state == "due", r.deadline < today).label("overdue"))
            .join(s.id.table, s.id == r.system_id).join(p.id.table, p.id == r.provider_id))


def _row(row: Any) -> Row:
    out = dict(row._mapping)
    out["voluntary"] = bool(out["voluntary"])
    out["overdue"] = bool(out["overdue"])
    return out


def _today() -> date:
    return datetime.now(UTC).date()


def list_registrations(session: Session, scope: Scope, state: str | None = None, *, limit: int = MAX_PAGE_ROWS,
                       offset: int = 0) -> list[Row]:
    """Registrations within ``scope`` (a provider: its own), most recently changed first."""
    r = columns(Registration)
    query = scope.restrict(_base(_today()), r.provider_id)
    if state:
        query = query.where(r.state == state)
    query = query.order_by(r.updated_at.desc(), r.id.desc()).offset(max(offset, 0)).limit(
        max(0, min(limit, MAX_PAGE_ROWS)))
    return [_row(row) for row in session.execute(query)]


def review_queue(session: Session, scope: Scope) -> list[Row]:
    """Submitted and contested registrations, earliest deadline first (none last); regulators only."""
    if not scope.sees_everything:
        return []
    r = columns(Registration)
    query = (_base(_today()).where(r.state.in_(("submitted", "contested")))
             .order_by(r.deadline.is_(None), r.deadline, r.updated_at, r.id).limit(MAX_PAGE_ROWS))
    return [_row(row) for row in session.execute(query)]


def registration_row(session: Session, registration_id: int, scope: Scope | None = None) -> Row | None:
    """One registration as the lists show it (None: missing, or outside ``scope``)."""
    r = columns(Registration)
    query = _base(_today()).where(r.id == registration_id)
    if scope is not None:
        query = scope.restrict(query, r.provider_id)
    found = session.execute(query).first()
    return None if found is None else _row(found)


def registration_detail(session: Session, scope: Scope, registration_id: int) -> Row | None:
    """One registration with its submissions (the compute figure included: the caller is the owner
    or a regulator), attachment metadata and history; None when missing or another provider's."""
    row = registration_row(session, registration_id, scope)
    if row is None:
        return None
    sub, att, ev = columns(RegistrationSubmission), columns(RegistrationAttachment), columns(RegistrationEvent)
    submissions = [dict(s._mapping) for s in session.execute(
        sa.select(sub.id, sub.kind, sub.channel, sub.submitted_by, sub.submitted_at, sub.compute_flop,
                  sub.compute_method, sub.crossed_on, sub.contact, sub.contest_text, sub.record_sha256)
        .where(sub.registration_id == registration_id).order_by(sub.id))]
    attachments: dict[int, list[Row]] = {}
    if submissions:
        for a in session.execute(
                sa.select(att.id, att.submission_id, att.filename, att.media_type, att.sha256, att.size_bytes)
                .where(att.submission_id.in_([s["id"] for s in submissions])).order_by(att.id)):
            attachments.setdefault(a.submission_id, []).append(
                {k: v for k, v in a._mapping.items() if k != "submission_id"})
    for submission in submissions:
        submission["attachments"] = attachments.get(submission["id"], [])
    row["submissions"] = submissions
    row["events"] = [dict(e._mapping) for e in session.execute(
        sa.select(ev.id, ev.from_state, ev.to_state, ev.action, ev.actor, ev.reason, ev.at)
        .where(ev.registration_id == registration_id).order_by(ev.id))]
    row["certificate_status"] = _certificate_status(session, registration_id)
    return row


def _certificate_status(session: Session, registration_id: int) -> str | None:
    c = columns(Certificate)
    return session.execute(sa.select(c.status).where(c.registration_id == registration_id)
                           .order_by(c.id.desc()).limit(1)).scalar_one_or_none()


def public_register(session: Session, search: str | None = None, limit: int = 1000, offset: int = 0) -> list[Row]:
    """Registered systems with their public fields only (docs/registration.md lists them),
    newest registration number first; ``search`` matches system, provider or number."""
    r, s, p, g, c, f = (columns(Registration), columns(AISystem), columns(Provider), columns(Regime),
                        columns(Certificate), columns(Flag))
    latest_certificate = (sa.select(c.status).where(c.registration_id == r.id).order_by(c.id.desc()).limit(1)
                          .correlate(r.id.table).scalar_subquery())
    query = (sa.select(r.registration_number, p.name.label("provider"), p.slug.label("provider_slug"),
                       s.name.label("system"), s.version, r.regime_id.label("regime"),
                       g.instrument.label("regime_name"), g.metric,
                       sa.func.coalesce(r.threshold, g.threshold).label("threshold"), r.state, r.crossed_on,
                       r.registered_at, latest_certificate.label("certificate_status"), f.tier)
             .join(s.id.table, s.id == r.system_id).join(p.id.table, p.id == r.provider_id)
             .join(g.id.table, g.id == r.regime_id)
             # The tier is the regime's public grade of the system, not its compute figure.
             .outerjoin(f.id.table, sa.and_(f.subject_kind == "system", f.subject_id == r.system_id,
                                            f.regime_id == r.regime_id))
             .where(r.state == "registered", r.registration_number.is_not(None)))
    text = (search or "").strip()[:SEARCH_MAX_CHARS].lower()
    if text:
        query = query.where(sa.or_(*(sa.func.lower(column).contains(text, autoescape=True)
                                     for column in (s.name, p.name, p.slug, r.registration_number))))
    query = (query.order_by(r.registration_number.desc()).offset(max(offset, 0))
             .limit(max(0, min(limit, 1000))))
    return [dict(row._mapping) for row in session.execute(query)]
