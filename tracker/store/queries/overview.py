"""The overview: headline counts, the compute scatter, threshold lines and inference series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.models import (
    Estimate,
)
from tracker.store.queries.common import (
    CROSSING,
    STATUS_RANK,
    TRAINING_METRICS,
    A,
    E,
    F,
    P,
    R,
    Row,
    S,
    as_date,
    current_estimate,
    method_list,
    plot_date,
    projected_of_system,
    status_label,
    status_rank_of_system,
)
from tracker.store.types import utcnow


def list_providers(session: Session, scope: Scope) -> list[Row]:
    q = scope.restrict(sa.select(P.id, P.slug, P.name), P.id).order_by(P.slug)
    return [dict(r._mapping) for r in session.execute(q)]

def overview_counts(session: Session, scope: Scope, *, provider_ids: Sequence[int] | None = None,
                    regime_id: str | None = None, today: date | None = None) -> Row:
    """Headline numbers: systems, per-regime crossings, projected, overdue, open alerts."""
    today = today or utcnow().date()

    def systems_filter(q: Any) -> Any:
        q = scope.restrict(q, S.provider_id)
        return q.where(S.provider_id.in_(provider_ids)) if provider_ids else q

    systems = session.execute(systems_filter(sa.select(sa.func.count()).select_from(S))).scalar_one()

    flag_base = sa.select(F.regime_id, F.status, F.projected, sa.func.count().label("n")).join(
        S, sa.and_(F.subject_kind == "system", F.subject_id == S.id)).where(F.status.in_(CROSSING))
    if regime_id:
        flag_base = flag_base.where(F.regime_id == regime_id)
    per_regime: dict[str, Row] = {}
    projected = 0
    for rid, status, is_projected, n in session.execute(
            systems_filter(flag_base).group_by(F.regime_id, F.status, F.projected)):
        entry = per_regime.setdefault(rid, {"regime_id": rid, "above": 0, "likely_above": 0, "projected": 0})
        if is_projected:
            entry["projected"] += n
            projected += n
        else:
            entry[status] += n

    overdue_q = sa.select(sa.func.count()).select_from(F).join(
        S, sa.and_(F.subject_kind == "system", F.subject_id == S.id)).where(
        F.status.in_(CROSSING), F.projected.is_(False), F.deadline < today, F.notified_at.is_(None))
    if regime_id:
        overdue_q = overdue_q.where(F.regime_id == regime_id)
    overdue = session.execute(systems_filter(overdue_q)).scalar_one()

    alerts_q = scope.restrict(sa.select(sa.func.count()).select_from(A).where(A.acknowledged_at.is_(None)),
                              A.provider_id)
    if provider_ids:
        alerts_q = alerts_q.where(A.provider_id.in_(provider_ids))
    open_alerts = session.execute(alerts_q).scalar_one()
    return {"systems": systems, "per_regime": sorted(per_regime.values(), key=lambda e: e["regime_id"]),
            "projected_crossings": projected, "overdue_notifications": overdue, "open_alerts": open_alerts}

@dataclass(frozen=True)
class ScatterFilters:
    regime_id: str | None = None
    provider_ids: tuple[int, ...] = ()
    statuses: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

def compute_scatter_points(session: Session, scope: Scope, filters: ScatterFilters = ScatterFilters(),
                           *, top_n: int = 500, crossing_cap: int = 5000) -> Row:
    """Systems to plot: every system at or near a threshold (up to ``crossing_cap``) plus the
    ``top_n`` largest by training compute. ``matching`` counts all systems the filters select,
    so the page can say how many it left out."""
    rank = status_rank_of_system(filters.regime_id)
    when = plot_date(session)
    train: Any = aliased(Estimate)
    base = (sa.select(S.id, S.name, S.version, P.slug.label("provider"), when.label("date"),
                      train.central_flop, train.low_flop, train.high_flop, train.methods, train.confidence,
                      rank.label("rank"), projected_of_system(filters.regime_id).label("projected"))
            .join(P, P.id == S.provider_id)
            .join(train, current_estimate(train, "training"))
            .where(train.central_flop.is_not(None), train.central_flop > 0))
    base = scope.restrict(base, S.provider_id)
    if filters.provider_ids:
        base = base.where(S.provider_id.in_(filters.provider_ids))
    if filters.statuses:
        ranks = [STATUS_RANK[s] for s in filters.statuses if s in STATUS_RANK]
        base = base.where(sa.func.coalesce(rank, 0).in_(ranks))
    if filters.date_from:
        base = base.where(when >= filters.date_from)
    if filters.date_to:
        base = base.where(when <= filters.date_to)

    matching = session.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    near = session.execute(base.where(rank >= STATUS_RANK["likely_above"])
                           .order_by(train.central_flop.desc()).limit(crossing_cap)).all()
    top = session.execute(base.order_by(train.central_flop.desc(), S.id).limit(top_n)).all()
    points: dict[int, Row] = {}
    for r in [*near, *top]:
        points[r.id] = {
            "id": r.id, "name": r.name, "version": r.version, "provider": r.provider,
            "date": as_date(r.date), "central": r.central_flop, "low": r.low_flop, "high": r.high_flop,
            "methods": method_list(r.methods), "confidence": r.confidence,
            "status": status_label(r.rank) or "unknown", "projected": bool(r.projected),
        }
    return {"points": list(points.values()), "matching": matching, "shown": len(points),
            "sampled": len(points) < matching, "top_n": top_n}

# Regimes that no longer apply stay in the regimes page as history, not on the live chart.
ENDED_STATES = ("rescinded", "vetoed", "superseded")

def threshold_lines(session: Session, scope: Scope, *, regime_id: str | None = None) -> list[Row]:
    """Training-compute thresholds to draw as horizontal lines (regimes are public: no scope)."""
    del scope  # regimes are law, visible to every role; kept for the uniform signature
    q = sa.select(R.id, R.threshold, R.state, R.comparator).where(
        R.metric.in_(TRAINING_METRICS), R.threshold.is_not(None),
        R.state.not_in(ENDED_STATES)).order_by(R.threshold, R.id)
    if regime_id:
        q = q.where(R.id == regime_id)
    return [dict(r._mapping) for r in session.execute(q)]

def inference_series(session: Session, scope: Scope, *, provider_ids: Sequence[int] | None = None,
                     top_n: int = 10) -> Row:
    """Inference compute per filed usage period for the ``top_n`` systems by current 30-day inference."""
    current: Any = aliased(Estimate)
    top_q = (sa.select(S.id).join(current, current_estimate(current, "inference_30d"))
             .where(current.central_flop.is_not(None))
             .order_by(current.central_flop.desc(), S.id).limit(top_n))
    top_q = scope.restrict(top_q, S.provider_id)
    if provider_ids:
        top_q = top_q.where(S.provider_id.in_(provider_ids))
    ids = list(session.execute(top_q).scalars())
    if not ids:
        return {"series": [], "top_n": top_n}
    # Each filed usage period's own estimate, plotted at the period's end.
    q = (sa.select(S.id, S.name, S.version, P.slug.label("provider"), E.period_end.label("at"), E.central_flop,
                   E.low_flop, E.high_flop)
         .join(S, S.id == E.system_id).join(P, P.id == S.provider_id)
         .where(E.kind == "inference_period", E.is_current, E.system_id.in_(ids), E.central_flop.is_not(None))
         .order_by(S.id, E.period_end))
    series: dict[int, Row] = {}
    for r in session.execute(scope.restrict(q, S.provider_id)):
        entry = series.setdefault(r.id, {"id": r.id, "name": r.name, "version": r.version,
                                         "provider": r.provider, "points": []})
        entry["points"].append({"at": r.at, "central": r.central_flop,
                                "low": r.low_flop, "high": r.high_flop})
    return {"series": [series[i] for i in ids if i in series], "top_n": top_n}
