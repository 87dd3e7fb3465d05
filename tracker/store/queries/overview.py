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
from tracker.store.models import AuditEvent, Flag
from tracker.store.queries.common import (
    CROSSING,
    RANK_STATUS,
    SC,
    SS,
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
    method_list,
    plot_date,
    rank_expr,
    rank_in,
    status_label,
)
from tracker.store.queries.confidential import confidential_lineage, without_masked, without_masked_flags
from tracker.store.queries.regime_labels import regime_names
from tracker.store.queries.system import estimate_methods, latest_inference_periods, shared_run_inputs
from tracker.store.types import utcnow


def list_providers(session: Session, scope: Scope) -> list[Row]:
    q = scope.restrict(sa.select(P.id, P.slug, P.name), P.id).order_by(P.slug)
    return [dict(r._mapping) for r in session.execute(q)]

def data_version(session: Session) -> int:
    """The newest audit entry's id: every write that changes what the overview shows (filings,
    evaluations, alert acknowledgements, registrations) appends one in its own transaction, and
    appends are serialised, so a higher id means newer data. Caches key on it to stay correct
    across server processes. Public to every scope: it reveals only that something changed."""
    return int(session.execute(sa.select(sa.func.max(AuditEvent.id))).scalar_one() or 0)

def overview_counts(session: Session, scope: Scope, *, provider_ids: Sequence[int] | None = None,
                    regime_id: str | None = None, today: date | None = None) -> Row:
    """Headline numbers: systems, per-regime crossings, projected, overdue, open alerts.

    Crossings are counted from ``system_crossing`` (the crossing flags, narrow) rather than the
    flag table: tens of thousands of small rows instead of a million wide ones."""
    today = today or utcnow().date()
    masked = confidential_lineage(session, scope)

    def in_view(q: Any, provider_column: Any) -> Any:
        q = scope.restrict(q, provider_column)
        if provider_column is SC.provider_id:
            q = without_masked_flags(session, q, SC.system_id, SC.regime_id, masked)
        return q.where(provider_column.in_(provider_ids)) if provider_ids else q

    systems = session.execute(in_view(sa.select(sa.func.count()).select_from(S), S.provider_id)).scalar_one()

    crossings = sa.select(SC.regime_id, SC.status_rank, SC.projected, sa.func.count().label("n"))
    overdue_q = sa.select(sa.func.count()).select_from(SC).where(
        SC.projected.is_(False), SC.deadline < today, SC.notified.is_(False))
    if regime_id:
        crossings, overdue_q = crossings.where(SC.regime_id == regime_id), overdue_q.where(SC.regime_id == regime_id)
    per_regime: dict[str, Row] = {}
    projected = 0
    for rid, rank, is_projected, n in session.execute(
            in_view(crossings, SC.provider_id).group_by(SC.regime_id, SC.status_rank, SC.projected)):
        entry = per_regime.setdefault(rid, {"regime_id": rid, "above": 0, "likely_above": 0, "projected": 0})
        if is_projected:
            entry["projected"] += n
            projected += n
        else:
            entry[status_label(rank) or "unknown"] += n
    overdue = session.execute(in_view(overdue_q, SC.provider_id)).scalar_one()

    alerts_q = scope.restrict(sa.select(sa.func.count()).select_from(A).where(A.acknowledged_at.is_(None)),
                              A.provider_id)
    if provider_ids:
        alerts_q = alerts_q.where(A.provider_id.in_(provider_ids))
    open_alerts = session.execute(alerts_q).scalar_one()
    names = regime_names(session)
    return {"systems": systems, "per_regime": sorted(per_regime.values(), key=lambda e: e["regime_id"]),
            "regime_names": {rid: names.get(rid, rid) for rid in per_regime},
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
    so the page can say how many it left out.

    Read from the summaries: the largest systems through ``system_status``'s training index, the
    crossings (over all regimes: ``status_rank`` >= likely_above; under one regime: its
    ``system_crossing`` rows) through theirs, each an index scan that stops at the cap."""
    regime_id = filters.regime_id
    when = plot_date(session)
    ranks = [STATUS_RANK[s] for s in filters.statuses if s in STATUS_RANK] if filters.statuses else None
    # The status under one regime is its flag's (at most one per system and regime), else the
    # system's highest over all regimes.
    flag: Any = aliased(Flag)
    on_flag = sa.and_(flag.subject_kind == "system", flag.subject_id == SS.system_id, flag.regime_id == regime_id)
    rank = rank_expr(flag) if regime_id else SS.status_rank
    projected = sa.and_(flag.projected.is_(True), flag.status.in_(CROSSING)) if regime_id else SS.projected

    masked = confidential_lineage(session, scope)

    def narrowed(q: Any, rank: Any, provider_column: Any) -> Any:
        q = without_masked(scope.restrict(q, provider_column), SS.system_id, masked)
        if filters.provider_ids:
            q = q.where(provider_column.in_(filters.provider_ids))
        if ranks is not None:
            q = q.where(rank_in(rank, ranks))
        if filters.date_from:
            q = q.where(when >= filters.date_from)
        if filters.date_to:
            q = q.where(when <= filters.date_to)
        return q

    def joined(q: Any, *, with_flag: bool) -> Any:
        q = q.join(S, S.id == SS.system_id).join(P, P.id == S.provider_id)
        return q.join(flag, on_flag, isouter=True) if with_flag else q

    point = (S.id, S.name, S.version, P.slug.label("provider"), when.label("date"), SS.training_central_flop,
             SS.training_low_flop, SS.training_high_flop, SS.training_methods, SS.training_confidence)
    has_figure = SS.training_central_flop > 0
    count_q = sa.select(sa.func.count()).select_from(SS).where(has_figure)
    if filters.date_from or filters.date_to:
        count_q = count_q.join(S, S.id == SS.system_id)
    if regime_id and ranks is not None:
        count_q = count_q.join(flag, on_flag, isouter=True)
    matching = session.execute(narrowed(count_q, rank, SS.provider_id)).scalar_one()

    if regime_id:
        near_q = (joined(sa.select(*point, SC.status_rank.label("rank"), SC.projected.label("projected"))
                         .select_from(SC).join(SS, SS.system_id == SC.system_id), with_flag=False)
                  .where(SC.regime_id == regime_id, SC.training_central_flop > 0)
                  .order_by(SC.training_central_flop.desc().nulls_last(), SC.system_id))
        near_q = narrowed(near_q, SC.status_rank, SC.provider_id)
    else:
        near_q = (joined(sa.select(*point, rank.label("rank"), projected.label("projected")).select_from(SS),
                         with_flag=False)
                  # Inline, not a bound parameter: the planner must see the constant to use the
                  # partial index ix_system_status_crossing (WHERE status_rank >= 3).
                  .where(has_figure, SS.status_rank >= sa.literal_column(str(STATUS_RANK["likely_above"])))
                  .order_by(SS.training_central_flop.desc().nulls_last(), SS.system_id))
        near_q = narrowed(near_q, rank, SS.provider_id)
    near = session.execute(near_q.limit(crossing_cap)).all()
    top_q = (joined(sa.select(*point, rank.label("rank"), projected.label("projected")).select_from(SS),
                    with_flag=bool(regime_id))
             .where(has_figure).order_by(SS.training_central_flop.desc().nulls_last(), SS.system_id))
    top = session.execute(narrowed(top_q, rank, SS.provider_id).limit(top_n)).all()
    points: dict[int, Row] = {}
    # Positional unpacking: thousands of rows per render, where named Row access adds up.
    for sid, name, version, provider, when_, central, low, high, methods, confidence, rank_, proj in [*near, *top]:
        if sid in points:  # among the largest and near a threshold: the same row twice
            continue
        points[sid] = {
            "id": sid, "name": name, "version": version, "provider": provider, "date": as_date(when_),
            "central": central, "low": low, "high": high, "methods": method_list(methods),
            "confidence": confidence, "status": RANK_STATUS.get(rank_, "unknown"), "projected": bool(proj),
        }
    # A system with only planned or in-progress compute has no training figure, and one whose crossing
    # comes from planned runs has a larger figure ahead: both are drawn at their projected figure too.
    # (Masked systems are already left out by ``narrowed``: their projected figure is withheld.)
    ahead = sa.or_(SS.training_central_flop.is_(None),
                   sa.and_(SS.projected.is_(True), E.central_flop > SS.training_central_flop))
    planned_q = (joined(sa.select(S.id, S.name, S.version, P.slug.label("provider"), when.label("date"),
                                  E.central_flop, E.low_flop, E.high_flop, E.methods, E.confidence, E.inputs_json,
                                  rank.label("rank"), E.computed_at)
                        .select_from(SS).join(E, sa.and_(E.system_id == SS.system_id, E.kind == "projected",
                                                         E.is_current.is_(True))), with_flag=bool(regime_id))
                 .where(E.central_flop > 0, ahead).order_by(E.central_flop.desc(), SS.system_id))
    planned = session.execute(narrowed(planned_q, rank, SS.provider_id).limit(crossing_cap)).all()
    shown = list(points.values())
    shared = shared_run_inputs(session, [(r[0], "projected", r[12], r[10]) for r in planned if not method_list(r[8])])
    for sid, name, version, provider, when_, central, low, high, methods, confidence, inputs, rank_, at in planned:
        shown.append({
            "id": sid, "name": name, "version": version, "provider": provider, "date": as_date(when_),
            "central": central, "low": low, "high": high,
            "methods": estimate_methods(methods, inputs or shared.get((sid, at))),
            "confidence": confidence, "status": RANK_STATUS.get(rank_, "unknown"), "projected": True,
            "estimate": "projected",
        })
    _attach_deciding_flags(session, shown, regime_id)
    matching += len(planned)
    return {"points": shown, "matching": matching, "shown": len(shown),
            "sampled": len(shown) < matching, "top_n": top_n, "projected_shown": len(planned)}


def _attach_deciding_flags(session: Session, points: list[Row], regime_id: str | None) -> None:
    """Give each point the regime its colour comes from, with that flag's status, reason and threshold.

    Under one regime that is the regime's own flag (none: ``unknown``, the regime did not evaluate the
    system). Over all regimes it is the most severe flag, the one ``system_status.status_rank``
    records; among equally severe flags a training-compute regime wins, then the highest threshold
    crossed (above, likely above) or the lowest not crossed (below, likely below): the regime whose
    line says most about the point.

    Crossing points (most of a large chart: every system near a threshold) are read from the narrow
    ``system_crossing`` rows and the regimes' thresholds; only the others from the wide flag table
    (about a dozen rows per system, each a heap read)."""
    names = regime_names(session)
    found: dict[int, Row] = {}
    crossing = sorted({p["id"] for p in points if p.get("status") in CROSSING})
    for part in _chunks(crossing):
        pick = sa.func.row_number().over(partition_by=SC.system_id, order_by=(
            SC.status_rank.desc(), sa.case((R.metric.in_(TRAINING_METRICS), 0), else_=1),
            sa.case((R.threshold.is_(None), 1), else_=0), R.threshold.desc(), SC.regime_id))
        q = (sa.select(SC.system_id, SC.regime_id, SC.status_rank, SC.projected, R.threshold, R.metric,
                       R.comparator, pick.label("pick"))
             .join(R, R.id == SC.regime_id).where(SC.system_id.in_(part)))
        if regime_id:
            q = q.where(SC.regime_id == regime_id)
        ranked = q.subquery()
        for sid, rid, rank, projected, threshold, metric, comparator in session.execute(
                sa.select(*[c for c in ranked.c if c.name != "pick"]).where(ranked.c.pick == 1)):
            found[sid] = {"regime_id": rid, "regime_name": names.get(rid, rid),
                          "flag_status": RANK_STATUS.get(rank, "unknown"), "flag_projected": bool(projected),
                          "reason": None, "threshold": threshold, "metric": metric, "comparator": comparator}
    # The rest (below, unknown; or a crossing whose summary row is missing) from their flags.
    rest = sorted({p["id"] for p in points} - set(found))
    for part in _chunks(rest):
        pick = sa.func.row_number().over(partition_by=F.subject_id, order_by=(
            rank_expr(F).desc(), sa.case((R.metric.in_(TRAINING_METRICS), 0), else_=1),
            sa.case((F.threshold.is_(None), 1), else_=0),
            sa.case((F.status.in_(CROSSING), -F.threshold), else_=F.threshold), F.regime_id))
        flags_q = (sa.select(F.subject_id, F.regime_id, F.status, F.projected, F.reason, F.threshold, R.metric,
                             R.comparator, pick.label("pick"))
                   .join(R, R.id == F.regime_id).where(F.subject_kind == "system", F.subject_id.in_(part)))
        if regime_id:
            flags_q = flags_q.where(F.regime_id == regime_id)
        ranked = flags_q.subquery()
        for sid, rid, status, projected, reason, threshold, metric, comparator in session.execute(
                sa.select(*[c for c in ranked.c if c.name != "pick"]).where(ranked.c.pick == 1)):
            found[sid] = {"regime_id": rid, "regime_name": names.get(rid, rid), "flag_status": status,
                          "flag_projected": bool(projected), "reason": reason, "threshold": threshold,
                          "metric": metric, "comparator": comparator}
    missing = {"regime_id": regime_id, "regime_name": names.get(regime_id, regime_id) if regime_id else None,
               "flag_status": None, "flag_projected": False, "reason": None, "threshold": None, "metric": None,
               "comparator": None}
    for point in points:
        point.update(found.get(point["id"], missing))


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[start:start + _FLAG_CHUNK] for start in range(0, len(ids), _FLAG_CHUNK)]


_FLAG_CHUNK = 1000



# Regimes that no longer apply stay in the regimes page as history, not on the live chart.
ENDED_STATES = ("rescinded", "vetoed", "superseded")

def threshold_lines(session: Session, scope: Scope, *, regime_id: str | None = None) -> list[Row]:
    """Training-compute thresholds to draw as horizontal lines (regimes are public: no scope)."""
    del scope  # regimes are law, visible to every role; kept for the uniform signature
    q = sa.select(R.id, R.threshold, R.state, R.comparator, R.metric).where(
        R.metric.in_(TRAINING_METRICS), R.threshold.is_not(None),
        R.state.not_in(ENDED_STATES)).order_by(R.threshold, R.id)
    if regime_id:
        q = q.where(R.id == regime_id)
    names = regime_names(session)
    return [{**r._mapping, "name": names.get(r.id, r.id)} for r in session.execute(q)]

def inference_series(session: Session, scope: Scope, *, provider_ids: Sequence[int] | None = None,
                     top_n: int = 10, today: date | None = None) -> Row:
    """Inference compute per filed usage period for the ``top_n`` systems by current 30-day
    inference, then (when fewer have one: usage filed long ago) by their latest period's figure.

    ``latest`` is the newest period end among them and ``latest_age_months`` its age in calendar
    months; ``recent`` is false when no period ended within the last 30 days, which is when the
    30-day figures are empty and the page must say how old the usage shown is."""
    today = today or utcnow().date()
    top_q = (sa.select(SS.system_id).where(SS.inference_30d_central_flop.is_not(None))
             .order_by(SS.inference_30d_central_flop.desc().nulls_last(), SS.system_id).limit(top_n))
    top_q = scope.restrict(top_q, SS.provider_id)
    if provider_ids:
        top_q = top_q.where(SS.provider_id.in_(provider_ids))
    ids = list(session.execute(top_q).scalars())
    if len(ids) < top_n:
        # Rare at scale (usage filed recently gives a 30-day figure, read through its index above);
        # the grouping below runs only when that leaves room, e.g. a registry whose usage aged out.
        newest = (sa.select(E.system_id, sa.func.max(E.period_end).label("period_end"))
                  .where(E.kind == "inference_period", E.is_current.is_(True), E.central_flop.is_not(None))
                  .group_by(E.system_id).subquery())
        aged_q = (sa.select(E.system_id).join(newest, sa.and_(newest.c.system_id == E.system_id,
                                                             newest.c.period_end == E.period_end))
                  .join(S, S.id == E.system_id)
                  .where(E.kind == "inference_period", E.is_current.is_(True), E.central_flop.is_not(None))
                  .order_by(E.central_flop.desc(), E.system_id))
        aged_q = scope.restrict(aged_q, S.provider_id)
        if provider_ids:
            aged_q = aged_q.where(S.provider_id.in_(provider_ids))
        if ids:
            aged_q = aged_q.where(E.system_id.not_in(ids))
        for sid in session.execute(aged_q.limit(top_n * 2)).scalars():
            if len(ids) >= top_n:
                break
            if sid not in ids:  # two current periods ending the same day: one row each
                ids.append(sid)
    if not ids:
        return {"series": [], "top_n": top_n, "latest": None, "latest_age_months": None, "recent": False}
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
        entry["points"].append({"at": as_date(r.at), "central": r.central_flop,
                                "low": r.low_flop, "high": r.high_flop})
    latest_by_system = latest_inference_periods(session, scope, ids)
    for sid, entry in series.items():
        entry["latest"] = latest_by_system.get(sid)
    ends = [p["at"] for s in series.values() for p in s["points"] if p["at"] is not None]
    latest = max(ends, default=None)
    return {"series": [series[i] for i in ids if i in series], "top_n": top_n, "latest": latest,
            "latest_age_months": months_between(latest, today) if latest else None,
            "recent": latest is not None and (today - latest).days <= RECENT_DAYS}


# A period that ended within this many days still counts in the 30-day figure.
RECENT_DAYS = 30


def months_between(earlier: date, later: date) -> int:
    """Calendar months from ``earlier`` to ``later`` (2026-10-31 to 2026-12-04: 2), never negative."""
    return max((later.year - earlier.year) * 12 + later.month - earlier.month, 0)
