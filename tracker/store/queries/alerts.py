"""Alerts and notification deadlines."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.models import (
    Alert,
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
)
from tracker.store.queries.confidential import confidential_lineage, without_masked_alerts, without_masked_flags
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
    return [alert_row(a, p, s) for a, p, s in rows], session.execute(count).scalar_one()

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
    for row in rows:
        row["days_left"] = (row["deadline"] - today).days
    return {"overdue": [r for r in rows if r["deadline"] < today],
            "upcoming": [r for r in rows if r["deadline"] >= today]}
