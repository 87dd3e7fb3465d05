"""Alerts and notification deadlines.

``alert_detail`` is one alert as its page shows it: the alert's row, its payload (previous and new
status, figure and threshold, a discrepancy's reported and estimated figures, a rejected filing's
accession), the regime's name and metric, and the delivery state of each sink. A provider sees its
own alerts only, and not those that would show a confidential lineage figure; an alert it may not
see is reported exactly as one that does not exist (None), so an id reveals nothing.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.models import (
    Alert,
    AlertDelivery,
    Filing,
    RejectionRepeat,
)
from tracker.store.queries.common import (
    CROSSING,
    MAX_PAGE_ROWS,
    A,
    F,
    P,
    R,
    Row,
    S,
    alert_row,
    parse_json,
)
from tracker.store.queries.confidential import confidential_lineage, without_masked_alerts, without_masked_flags
from tracker.store.queries.regime_labels import regime_names
from tracker.store.types import utcnow


def list_alerts(session: Session, scope: Scope, *, state: Literal["open", "acknowledged", "all"] = "all",
                limit: int = 200, offset: int = 0) -> tuple[list[Row], int]:
    q = (sa.select(Alert, P.slug, S.name).join(P, P.id == A.provider_id, isouter=True)
         .join(S, S.id == A.system_id, isouter=True))
    count = sa.select(sa.func.count()).select_from(A)
    if state == "open":
        q, count = q.where(A.acknowledged_at.is_(None)), count.where(A.acknowledged_at.is_(None))
    elif state == "acknowledged":
        q, count = q.where(A.acknowledged_at.is_not(None)), count.where(A.acknowledged_at.is_not(None))
    q, count = scope.restrict(q, A.provider_id), scope.restrict(count, A.provider_id)
    masked = confidential_lineage(session, scope)
    q, count = without_masked_alerts(session, q, masked), without_masked_alerts(session, count, masked)
    rows = session.execute(q.order_by(A.created_at.desc(), A.id.desc()).offset(max(offset, 0))
                           .limit(min(limit, MAX_PAGE_ROWS))).all()
    names = regime_names(session, {a.regime_id for a, _, _ in rows})
    return ([{**alert_row(a, p, s), "regime_name": names.get(a.regime_id, a.regime_id)} for a, p, s in rows],
            session.execute(count).scalar_one())

def alert_detail(session: Session, scope: Scope, alert_id: int) -> Row | None:
    """One alert with its payload, regime and deliveries; None when it does not exist or the scope
    may not see it (the same answer for both)."""
    q = (sa.select(Alert, P.slug, S.name, S.version).join(P, P.id == A.provider_id, isouter=True)
         .join(S, S.id == A.system_id, isouter=True).where(A.id == alert_id))
    q = without_masked_alerts(session, scope.restrict(q, A.provider_id), confidential_lineage(session, scope))
    found = session.execute(q).first()
    if found is None:
        return None
    alert, provider, system, version = found
    payload = parse_json(alert.payload_json)
    payload = payload if isinstance(payload, dict) else {}
    regime = None
    if alert.regime_id:
        found_regime = session.execute(sa.select(R.metric, R.comparator).where(R.id == alert.regime_id)).first()
        metric, comparator = found_regime if found_regime is not None else (None, None)
        regime = {"id": alert.regime_id, "metric": metric, "comparator": comparator,
                  "name": regime_names(session, [alert.regime_id]).get(alert.regime_id, alert.regime_id)}
    deliveries = session.execute(sa.select(AlertDelivery).where(AlertDelivery.alert_id == alert.id)
                                 .order_by(AlertDelivery.id)).scalars().all()  # type: ignore[arg-type]
    return {**alert_row(alert, provider, system), "version": version, "payload": payload, "regime": regime,
            "deliveries": [_delivery(d, full=scope.sees_everything) for d in deliveries]}


DELIVERY_STATES = {"pending": "pending", "delivered": "delivered", "dead": "failed"}


def _delivery(d: AlertDelivery, *, full: bool) -> Row:
    """A sink's delivery state. Sinks are the regulator's configuration: a provider sees the kind
    of sink only, and nobody sees a webhook address's query string or credentials (tokens)."""
    return {"sink": sink_label(d.sink, full=full), "status": DELIVERY_STATES.get(d.status, d.status),
            "attempts": d.attempts, "last_error": d.last_error if full else None,
            "next_attempt_at": d.next_attempt_at if d.status == "pending" else None, "delivered_at": d.delivered_at}


def sink_label(sink: str, *, full: bool) -> str:
    """``webhook: https://host/path`` (no credentials, query or fragment); the kind alone unless ``full``."""
    kind, _, address = sink.partition(":")
    if not full or not address:
        return kind or "sink"
    if kind == "webhook":
        parts = urlsplit(address)
        address = f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}{parts.path}"
    return f"{kind}: {address}"


def alert_in_scope(session: Session, scope: Scope, alert_id: int) -> bool:
    q = scope.restrict(sa.select(A.id).where(A.id == alert_id), A.provider_id)
    return session.execute(q).first() is not None

def rejection_repeats(session: Session, scope: Scope, alert_id: int) -> Row | None:
    """How often the rejection behind a ``filing_rejected`` alert was filed again (same bytes, same
    problems) without a new alert: ``count`` attempts in all, the last one's time and accession."""
    last = sa.orm.aliased(Filing)
    q = (sa.select(RejectionRepeat.count, RejectionRepeat.last_at, last.accession)  # type: ignore[call-overload]
         .join(last, last.id == RejectionRepeat.last_filing_id).where(RejectionRepeat.alert_id == alert_id))
    row = session.execute(scope.restrict(q, RejectionRepeat.provider_id)).first()
    return None if row is None else {"count": row[0], "last_at": row[1], "last_accession": row[2]}

def deadlines(session: Session, scope: Scope, *, today: date | None = None, horizon_days: int = 90,
              limit: int = 200) -> Row:
    """Notification deadlines not yet met: overdue ones and those due within ``horizon_days``."""
    today = today or utcnow().date()
    q = (sa.select(F.id, F.regime_id, F.status, F.projected, F.deadline, F.crossed_on,
                   S.id.label("system_id"), S.name.label("system"), P.slug.label("provider"), R.obligation)
         .join(S, sa.and_(F.subject_kind == "system", F.subject_id == S.id)).join(P, P.id == S.provider_id)
         .join(R, R.id == F.regime_id)
         .where(F.status.in_(CROSSING), F.notified_at.is_(None), F.deadline.is_not(None),
                F.deadline <= today + timedelta(days=horizon_days))
         .order_by(F.deadline, F.id).limit(limit))
    q = without_masked_flags(session, q, S.id, F.regime_id, confidential_lineage(session, scope))
    rows = [dict(r._mapping) for r in session.execute(scope.restrict(q, S.provider_id))]
    names = regime_names(session, {row["regime_id"] for row in rows})
    for row in rows:
        row["days_left"] = (row["deadline"] - today).days
        row["regime_name"] = names.get(row["regime_id"], row["regime_id"])
    return {"overdue": [r for r in rows if r["deadline"] < today],
            "upcoming": [r for r in rows if r["deadline"] >= today]}
