"""The read side of the registry: every query the dashboard (and any other view) runs.

Rules that hold for every function here:

- the first two arguments are ``session`` and ``scope``; the scope is applied inside the SQL with
  ``scope.restrict`` on the owning provider column, so a caller can never widen it by passing ids;
- aggregation happens in the database and lists are paged, so a registry of 100,000 systems costs
  one page of rows per call, not the whole table;
- grid sort and filter models are mapped through a whitelist of columns (``GRID_COLUMNS``) and
  every value is a bound parameter; unknown columns are ignored, never interpolated;
- results are plain dicts (JSON-ready apart from dates), so views stay thin.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.models import (
    AISystem,
    Alert,
    ApiToken,
    ComputeCluster,
    Discrepancy,
    Estimate,
    Filing,
    Flag,
    FlagEvent,
    InferenceUsage,
    Provider,
    Regime,
    Subscription,
    TrainingRun,
)
from tracker.store.types import utcnow

Row = dict[str, Any]
STATUSES = ("above", "likely_above", "likely_below", "below", "unknown")
STATUS_RANK = {"unknown": 0, "below": 1, "likely_below": 2, "likely_above": 3, "above": 4}
RANK_STATUS = {rank: status for status, rank in STATUS_RANK.items()}
CROSSING = ("above", "likely_above")
TRAINING_METRICS = ("training_flop_cumulative", "training_flop_param_updates", "training_run_ops")
METHODS = ("architecture", "hardware", "reported")
MAX_PAGE_ROWS = 1000
MAX_EXPORT_ROWS = 100_000

# Column objects (the models' attributes are typed as plain Python values for SQLModel).
S: Any = AISystem
P: Any = Provider
E: Any = Estimate
F: Any = Flag
FE: Any = FlagEvent
A: Any = Alert
R: Any = Regime
FI: Any = Filing
TR: Any = TrainingRun
IU: Any = InferenceUsage


# ---------------------------------------------------------------- shared expressions

def _rank_expr() -> ColumnElement[int]:
    return sa.case(*[(F.status == s, r) for s, r in STATUS_RANK.items()], else_=0)


def _status_rank_of_system(regime_id: str | None = None) -> Any:
    """Highest status rank of the correlated system over its flags (or one regime's flag)."""
    q = sa.select(sa.func.max(_rank_expr())).where(F.subject_kind == "system", F.subject_id == S.id)
    if regime_id:
        q = q.where(F.regime_id == regime_id)
    return q.correlate(S).scalar_subquery()


def _projected_of_system(regime_id: str | None = None) -> Any:
    q = sa.select(sa.func.count()).where(
        F.subject_kind == "system", F.subject_id == S.id, F.projected.is_(True), F.status.in_(CROSSING))
    if regime_id:
        q = q.where(F.regime_id == regime_id)
    return q.correlate(S).scalar_subquery()


def _date_of(session: Session, column: Any) -> Any:
    # SQLite stores timestamps as text and CAST(... AS DATE) would yield a number there.
    if session.get_bind().dialect.name == "sqlite":
        return sa.func.date(column)
    return sa.cast(column, sa.Date)


def _last_run_end() -> Any:
    return (sa.select(sa.func.max(TR.end_date))
            .where(TR.system_id == S.id, TR.is_current.is_(True))
            .correlate(S).scalar_subquery())


def _plot_date(session: Session) -> Any:
    """The date a system is plotted at: publication, else last run end, else registration."""
    return sa.func.coalesce(S.publication_date, _last_run_end(), _date_of(session, S.created_at))


def _current(alias: Any, kind: str) -> Any:
    return sa.and_(alias.system_id == S.id, alias.kind == kind, alias.is_current.is_(True))


def _methods(text: str | None) -> list[str]:
    return [m for m in (text or "").split(",") if m]


def _status_label(rank: int | None) -> str | None:
    return None if rank is None else RANK_STATUS.get(int(rank), "unknown")


# ---------------------------------------------------------------- providers

def list_providers(session: Session, scope: Scope) -> list[Row]:
    q = scope.restrict(sa.select(P.id, P.slug, P.name), P.id).order_by(P.slug)
    return [dict(r._mapping) for r in session.execute(q)]


# ---------------------------------------------------------------- overview

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
    rank = _status_rank_of_system(filters.regime_id)
    plot_date = _plot_date(session)
    train: Any = aliased(Estimate)
    base = (sa.select(S.id, S.name, S.version, P.slug.label("provider"), plot_date.label("date"),
                      train.central_flop, train.low_flop, train.high_flop, train.methods, train.confidence,
                      rank.label("rank"), _projected_of_system(filters.regime_id).label("projected"))
            .join(P, P.id == S.provider_id)
            .join(train, _current(train, "training"))
            .where(train.central_flop.is_not(None), train.central_flop > 0))
    base = scope.restrict(base, S.provider_id)
    if filters.provider_ids:
        base = base.where(S.provider_id.in_(filters.provider_ids))
    if filters.statuses:
        ranks = [STATUS_RANK[s] for s in filters.statuses if s in STATUS_RANK]
        base = base.where(sa.func.coalesce(rank, 0).in_(ranks))
    if filters.date_from:
        base = base.where(plot_date >= filters.date_from)
    if filters.date_to:
        base = base.where(plot_date <= filters.date_to)

    matching = session.execute(sa.select(sa.func.count()).select_from(base.subquery())).scalar_one()
    near = session.execute(base.where(rank >= STATUS_RANK["likely_above"])
                           .order_by(train.central_flop.desc()).limit(crossing_cap)).all()
    top = session.execute(base.order_by(train.central_flop.desc(), S.id).limit(top_n)).all()
    points: dict[int, Row] = {}
    for r in [*near, *top]:
        points[r.id] = {
            "id": r.id, "name": r.name, "version": r.version, "provider": r.provider,
            "date": _as_date(r.date), "central": r.central_flop, "low": r.low_flop, "high": r.high_flop,
            "methods": _methods(r.methods), "confidence": r.confidence,
            "status": _status_label(r.rank) or "unknown", "projected": bool(r.projected),
        }
    return {"points": list(points.values()), "matching": matching, "shown": len(points),
            "sampled": len(points) < matching, "top_n": top_n}


def _as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


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
    top_q = (sa.select(S.id).join(current, _current(current, "inference_30d"))
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


# ---------------------------------------------------------------- the systems grid

@dataclass(frozen=True)
class GridColumn:
    kind: Literal["text", "number", "date", "status"]
    expr: Callable[[Row], Any]  # builds the SQL expression from the query's aliases


def _grid_exprs(session: Session) -> tuple[dict[str, GridColumn], Row]:
    train = aliased(Estimate)
    infer = aliased(Estimate)
    aliases: Row = {"train": train, "infer": infer, "rank": _status_rank_of_system(),
                    "date": S.publication_date}
    columns = {
        "id": GridColumn("number", lambda a: S.id),
        "provider": GridColumn("text", lambda a: P.slug),
        "name": GridColumn("text", lambda a: S.name),
        "version": GridColumn("text", lambda a: S.version),
        "publication_date": GridColumn("date", lambda a: a["date"]),
        "training_flop": GridColumn("number", lambda a: a["train"].central_flop),
        "training_low_flop": GridColumn("number", lambda a: a["train"].low_flop),
        "training_high_flop": GridColumn("number", lambda a: a["train"].high_flop),
        "methods": GridColumn("text", lambda a: a["train"].methods),
        "confidence": GridColumn("text", lambda a: a["train"].confidence),
        "inference_flop_30d": GridColumn("number", lambda a: a["infer"].central_flop),
        "status": GridColumn("status", lambda a: a["rank"]),
    }
    return columns, aliases


GRID_COLUMNS = ("id", "provider", "name", "version", "publication_date", "training_flop",
                "training_low_flop", "training_high_flop", "methods", "confidence",
                "inference_flop_30d", "status")


def _text_condition(expr: Any, kind: str, value: Any) -> ColumnElement[bool] | None:
    if kind == "blank":
        return sa.or_(expr.is_(None), expr == "")
    if kind == "notBlank":
        return sa.and_(expr.is_not(None), expr != "")
    if value is None:
        return None
    text = str(value).lower()
    low = sa.func.lower(expr)
    return {
        "contains": lambda: low.contains(text, autoescape=True),
        "notContains": lambda: sa.or_(expr.is_(None), ~low.contains(text, autoescape=True)),
        "equals": lambda: low == text,
        "notEqual": lambda: sa.or_(expr.is_(None), low != text),
        "startsWith": lambda: low.startswith(text, autoescape=True),
        "endsWith": lambda: low.endswith(text, autoescape=True),
    }.get(kind, lambda: None)()


def _ordered_condition(expr: Any, kind: str, value: Any, value_to: Any) -> ColumnElement[bool] | None:
    if kind == "blank":
        return expr.is_(None)
    if kind == "notBlank":
        return expr.is_not(None)
    if value is None:
        return None
    ops: dict[str, Callable[[], Any]] = {
        "equals": lambda: expr == value,
        "notEqual": lambda: sa.or_(expr.is_(None), expr != value),
        "greaterThan": lambda: expr > value,
        "greaterThanOrEqual": lambda: expr >= value,
        "lessThan": lambda: expr < value,
        "lessThanOrEqual": lambda: expr <= value,
        "inRange": lambda: sa.and_(expr >= value, expr <= value_to) if value_to is not None else None,
    }
    return ops.get(kind, lambda: None)()


def _number(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _day(value: Any) -> date | None:
    try:
        return None if not value else date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _status_condition(expr: Any, kind: str, value: Any) -> ColumnElement[bool] | None:
    """Status is stored as a rank; match the typed text against the labels, then compare ranks."""
    rank = sa.func.coalesce(expr, 0)
    if kind in ("blank", "notBlank") or value is None:
        return None
    text = str(value).lower().strip().replace(" ", "_")
    tests: dict[str, Callable[[str], bool]] = {
        "contains": lambda s: text in s, "notContains": lambda s: text not in s,
        "equals": lambda s: s == text, "notEqual": lambda s: s != text,
        "startsWith": lambda s: s.startswith(text), "endsWith": lambda s: s.endswith(text),
    }
    test = tests.get(kind)
    if test is None:
        return None
    return rank.in_([r for s, r in STATUS_RANK.items() if test(s)])


def _condition(column: GridColumn, expr: Any, model: Mapping[str, Any]) -> ColumnElement[bool] | None:
    if "conditions" in model or "operator" in model:
        found = [_condition(column, expr, c) for c in model.get("conditions") or [] if isinstance(c, Mapping)]
        parts = [p for p in found if p is not None]
        if not parts:
            return None
        return sa.or_(*parts) if str(model.get("operator", "AND")).upper() == "OR" else sa.and_(*parts)
    kind = str(model.get("type", "contains" if column.kind in ("text", "status") else "equals"))
    if column.kind == "text":
        return _text_condition(expr, kind, model.get("filter"))
    if column.kind == "status":
        return _status_condition(expr, kind, model.get("filter"))
    if column.kind == "number":
        return _ordered_condition(expr, kind, _number(model.get("filter")), _number(model.get("filterTo")))
    return _ordered_condition(expr, kind, _day(model.get("dateFrom") or model.get("filter")),
                              _day(model.get("dateTo")))


def _grid_query(session: Session, scope: Scope, filter_model: Mapping[str, Any] | None,
                columns: dict[str, GridColumn], a: Row, selected: Sequence[Any]) -> Any:
    train, infer = a["train"], a["infer"]
    q = (sa.select(*selected).select_from(S).join(P, P.id == S.provider_id)
         .join(train, _current(train, "training"), isouter=True)
         .join(infer, _current(infer, "inference_30d"), isouter=True))
    q = scope.restrict(q, S.provider_id)
    for col_id, model in (filter_model or {}).items():
        column = columns.get(col_id)
        if column is None or not isinstance(model, Mapping):
            continue  # not in the whitelist: ignored, never interpolated
        condition = _condition(column, column.expr(a), model)
        if condition is not None:
            q = q.where(condition)
    return q


def _grid_select(columns: dict[str, GridColumn], a: Row) -> list[Any]:
    return [columns[c].expr(a).label(c) for c in GRID_COLUMNS]


def _grid_row(r: Any) -> Row:
    row = dict(r._mapping)
    row["status"] = _status_label(row["status"]) or "unknown"
    row["publication_date"] = _as_date(row["publication_date"])
    return row


def _ordered(q: Any, sort_model: Sequence[Mapping[str, Any]] | None, columns: dict[str, GridColumn],
             a: Row) -> Any:
    order = []
    for item in sort_model or []:
        column = columns.get(str(item.get("colId")))
        if column is None:
            continue
        expr = column.expr(a)
        order.append(expr.desc().nulls_last() if item.get("sort") == "desc" else expr.asc().nulls_last())
    return q.order_by(*order, S.id)  # the id makes paging stable when sort keys tie


def systems_page(session: Session, scope: Scope, start_row: int, end_row: int,
                 sort_model: Sequence[Mapping[str, Any]] | None = None,
                 filter_model: Mapping[str, Any] | None = None) -> tuple[list[Row], int]:
    """Rows ``start_row`` to ``end_row`` (exclusive) of the registry and the filtered total."""
    start = max(int(start_row), 0)
    size = min(max(int(end_row) - start, 0), MAX_PAGE_ROWS)
    columns, a = _grid_exprs(session)
    total = session.execute(sa.select(sa.func.count()).select_from(
        _grid_query(session, scope, filter_model, columns, a, [S.id]).subquery())).scalar_one()
    q = _ordered(_grid_query(session, scope, filter_model, columns, a, _grid_select(columns, a)),
                 sort_model, columns, a)
    rows = [_grid_row(r) for r in session.execute(q.offset(start).limit(size))]
    return rows, total


def systems_export(session: Session, scope: Scope, sort_model: Sequence[Mapping[str, Any]] | None = None,
                   filter_model: Mapping[str, Any] | None = None,
                   limit: int = MAX_EXPORT_ROWS) -> list[Row]:
    """The grid's current view (same sort and filters), up to ``limit`` rows."""
    columns, a = _grid_exprs(session)
    q = _ordered(_grid_query(session, scope, filter_model, columns, a, _grid_select(columns, a)),
                 sort_model, columns, a)
    return [_grid_row(r) for r in session.execute(q.limit(limit))]


# ---------------------------------------------------------------- one system

def _estimate_row(e: Any) -> Row:
    inputs = _json(e.inputs_json)
    return {"kind": e.kind, "central": e.central_flop, "low": e.low_flop, "high": e.high_flop,
            "methods": _methods(e.methods), "confidence": e.confidence, "computed_at": e.computed_at,
            "methodology_version": e.methodology_version, "per_method": per_method(inputs),
            "inputs": inputs}


def per_method(inputs: Any) -> list[Row]:
    """Each method's own estimate from an estimate's ``inputs_json``.

    Accepted shapes: the registry pipeline's ``{"runs": [{"hardware_flop_central": .., ...}]}``
    (summed over the runs that have the method; no interval is stored there), or
    ``{"methods": {"hardware": {"central":..,"low":..,"high":..}}}``, ``{"hardware": {...}}`` and flat
    ``{"hardware_central": .., "hardware_low": .., ...}``."""
    if not isinstance(inputs, Mapping):
        return []
    runs = inputs.get("runs")
    if isinstance(runs, list):
        return _per_method_from_runs([r for r in runs if isinstance(r, Mapping)])
    methods = inputs.get("methods")
    nested: Mapping[str, Any] = methods if isinstance(methods, Mapping) else inputs
    out = []
    for method in METHODS:
        part = nested.get(method)
        source: Mapping[str, Any] = part if isinstance(part, Mapping) else {
            s: inputs.get(f"{method}_{s}") for s in ("central", "low", "high")}
        central, low, high = (_number(source.get(s)) for s in ("central", "low", "high"))
        if central:
            out.append({"method": method, "central": central, "low": low, "high": high})
    return out


def _per_method_from_runs(runs: list[Mapping[str, Any]]) -> list[Row]:
    """Each method summed over the runs it applies to; its interval too when every such run
    carries one (bounds add, as the estimator's sums do)."""
    out = []
    for method in METHODS:
        applied = [r for r in runs if _number(r.get(f"{method}_flop_central"))]
        if not applied:
            continue
        lows = [_number(r.get(f"{method}_flop_low")) for r in applied]
        highs = [_number(r.get(f"{method}_flop_high")) for r in applied]
        out.append({
            "method": method, "central": sum(_number(r.get(f"{method}_flop_central")) or 0.0 for r in applied),
            "low": sum(v for v in lows if v) if all(lows) else None,
            "high": sum(v for v in highs if v) if all(highs) else None,
            "runs": len(applied), "of_runs": len(runs),
        })
    return out


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _system_header(session: Session, scope: Scope, system_id: int) -> Row | None:
    q = (sa.select(S.id, S.name, S.version, S.provider_id, S.base_system_id, S.modality, S.publication_date,
                   S.created_at, P.slug.label("provider"), P.name.label("provider_name"))
         .join(P, P.id == S.provider_id).where(S.id == system_id))
    row = session.execute(scope.restrict(q, S.provider_id)).first()
    return dict(row._mapping) if row else None


def _training_central(session: Session, system_ids: Iterable[int]) -> dict[int, float | None]:
    ids = list(system_ids)
    if not ids:
        return {}
    q = sa.select(E.system_id, E.central_flop).where(E.system_id.in_(ids), E.kind == "training",
                                                     E.is_current.is_(True))
    return {r[0]: r[1] for r in session.execute(q)}


def _lineage(session: Session, scope: Scope, system: Row, max_depth: int = 20) -> Row:
    """Base systems up the chain and systems derived from this one. A base system of another
    provider (outside the scope) is named only as such."""
    ancestors: list[Row] = []
    next_id = system["base_system_id"]
    while next_id is not None and len(ancestors) < max_depth:
        header = _system_header(session, scope, next_id)
        if header is None:
            ancestors.append({"id": None, "name": "a system of another provider", "visible": False})
            break
        ancestors.append({**header, "visible": True})
        next_id = header["base_system_id"]
    derived_q = scope.restrict(
        sa.select(S.id, S.name, S.version, P.slug.label("provider")).join(P, P.id == S.provider_id)
        .where(S.base_system_id == system["id"]).order_by(S.id).limit(200), S.provider_id)
    derived = [dict(r._mapping) for r in session.execute(derived_q)]
    compute = _training_central(session, [a["id"] for a in ancestors if a["id"]] + [d["id"] for d in derived])
    for entry in [*ancestors, *derived]:
        entry["training_flop"] = compute.get(entry["id"]) if entry.get("id") else None
    return {"ancestors": ancestors, "derived": derived}


def system_detail(session: Session, scope: Scope, system_id: int) -> Row | None:
    """Everything the system page shows, or None when the system does not exist in this scope."""
    system = _system_header(session, scope, system_id)
    if system is None:
        return None
    estimates = session.execute(sa.select(Estimate).where(E.system_id == system_id, E.is_current.is_(True))
                                .order_by(E.kind)).scalars().all()
    history = session.execute(sa.select(Estimate).where(E.system_id == system_id, E.kind == "training")
                              .order_by(E.computed_at.desc()).limit(20)).scalars().all()
    runs_q = (sa.select(TrainingRun, FI.accession).join(FI, FI.id == TR.filing_id)
              .where(TR.system_id == system_id).order_by(TR.is_current.desc(), TR.start_date, TR.id))
    runs = [{**_model_dict(run), "accession": acc}
            for run, acc in session.execute(scope.restrict(runs_q, FI.provider_id))]
    usage_q = (sa.select(InferenceUsage, FI.accession).join(FI, FI.id == IU.filing_id)
               .where(IU.system_id == system_id).order_by(IU.period_start.desc(), IU.id).limit(200))
    usage = [{**_model_dict(u), "accession": acc}
             for u, acc in session.execute(scope.restrict(usage_q, FI.provider_id))]
    flags_q = (sa.select(Flag, R.obligation, R.state, R.jurisdiction, R.metric)
               .join(R, R.id == F.regime_id)
               .where(F.subject_kind == "system", F.subject_id == system_id).order_by(F.regime_id))
    flags = [{**_model_dict(f), "obligation": ob, "regime_state": st, "jurisdiction": j, "metric": m}
             for f, ob, st, j, m in session.execute(flags_q)]
    events_q = (sa.select(FlagEvent).where(FE.subject_kind == "system", FE.subject_id == system_id)
                .order_by(FE.changed_on, FE.recorded_at, FE.id))
    events = [_model_dict(e) for e in session.execute(events_q).scalars()]
    alerts_q = scope.restrict(sa.select(Alert).where(A.system_id == system_id)
                              .order_by(A.created_at.desc()).limit(100), A.provider_id)
    alerts = [_alert_row(a, system["provider"], system["name"]) for a in session.execute(alerts_q).scalars()]
    discrepancies = [_model_dict(d) for d in session.execute(
        sa.select(Discrepancy).where(Discrepancy.system_id == system_id)  # type: ignore[arg-type]
        .order_by(Discrepancy.detected_at.desc())).scalars()]  # type: ignore[attr-defined]
    return {
        "system": system, "lineage": _lineage(session, scope, system),
        "estimates": [_estimate_row(e) for e in estimates],
        "training_history": [_estimate_row(e) for e in history],
        "runs": runs, "inference_usage": usage, "flags": flags, "flag_history": events,
        "alerts": alerts, "discrepancies": discrepancies,
    }


def _model_dict(obj: Any) -> Row:
    return {c.key: getattr(obj, c.key) for c in sa.inspect(type(obj)).columns}


# ---------------------------------------------------------------- filings

def list_filings(session: Session, scope: Scope, *, limit: int = 100, offset: int = 0,
                 status: str | None = None) -> tuple[list[Row], int]:
    """Newest filings first, with their provider; ``total`` counts all matching."""
    q = scope.restrict(sa.select(FI, P.slug).join(P, P.id == FI.provider_id), FI.provider_id)
    count = scope.restrict(sa.select(sa.func.count()).select_from(FI), FI.provider_id)
    if status:
        q, count = q.where(FI.status == status), count.where(FI.status == status)
    rows = session.execute(q.order_by(FI.filed_at.desc(), FI.id.desc())
                           .offset(max(offset, 0)).limit(min(limit, MAX_PAGE_ROWS))).all()
    out = []
    for filing, slug in rows:
        row = _model_dict(filing)
        row.pop("stored_path", None)  # a server path is nobody's business outside the server
        row["provider"] = slug
        row["error_count"] = len(_errors(filing.errors_json))
        out.append(row)
    return out, session.execute(count).scalar_one()


def _errors(text: str | None) -> list[Any]:
    value = _json(text)
    if isinstance(value, dict):
        value = value.get("errors", [value])
    return value if isinstance(value, list) else ([] if value is None else [value])


def _amendments(session: Session, filing_id: int) -> tuple[list[int], list[int]]:
    """(filings this one amended, filings that amended this one), through superseded records."""
    amends: set[int] = set()
    amended_by: set[int] = set()
    models: tuple[Any, ...] = (TrainingRun, InferenceUsage, ComputeCluster)
    for m in models:
        new: Any = aliased(m)
        pairs = sa.select(m.filing_id.label("old"), new.filing_id.label("new")).join(
            new, new.id == m.superseded_by_id)
        for old_id, new_id in session.execute(pairs.where(sa.or_(m.filing_id == filing_id,
                                                                 new.filing_id == filing_id))):
            if new_id == filing_id and old_id != filing_id:
                amends.add(old_id)
            if old_id == filing_id and new_id != filing_id:
                amended_by.add(new_id)
    return sorted(amends), sorted(amended_by)


def filing_detail(session: Session, scope: Scope, accession: str) -> Row | None:
    """One filing with its error report and amendments chain, or None outside the scope."""
    q = scope.restrict(sa.select(FI, P.slug).join(P, P.id == FI.provider_id)
                       .where(FI.accession == accession), FI.provider_id)
    found = session.execute(q).first()
    if found is None:
        return None
    filing, slug = found
    amends, amended_by = _amendments(session, filing.id)
    names = {r[0]: r[1] for r in session.execute(scope.restrict(
        sa.select(FI.id, FI.accession).where(FI.id.in_(amends + amended_by)), FI.provider_id))}
    row = _model_dict(filing)
    row.pop("stored_path", None)
    return {**row, "provider": slug, "errors": _errors(filing.errors_json),
            "amends": [names[i] for i in amends if i in names],
            "amended_by": [names[i] for i in amended_by if i in names]}


# ---------------------------------------------------------------- alerts and deadlines

def _alert_row(alert: Any, provider: str | None, system: str | None) -> Row:
    payload = _json(alert.payload_json) or {}
    return {"id": alert.id, "kind": alert.kind, "provider": provider, "system": system,
            "system_id": alert.system_id, "regime_id": alert.regime_id, "created_at": alert.created_at,
            "acknowledged_at": alert.acknowledged_at, "acknowledged_by": alert.acknowledged_by,
            "status": payload.get("status") if isinstance(payload, dict) else None,
            "deadline": payload.get("deadline") if isinstance(payload, dict) else None}


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
    rows = session.execute(q.order_by(A.created_at.desc(), A.id.desc()).offset(max(offset, 0))
                           .limit(min(limit, MAX_PAGE_ROWS))).all()
    return [_alert_row(a, p, s) for a, p, s in rows], session.execute(count).scalar_one()


def alert_in_scope(session: Session, scope: Scope, alert_id: int) -> bool:
    q = scope.restrict(sa.select(A.id).where(A.id == alert_id), A.provider_id)
    return session.execute(q).first() is not None


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
    rows = [dict(r._mapping) for r in session.execute(scope.restrict(q, S.provider_id))]
    for row in rows:
        row["days_left"] = (row["deadline"] - today).days
    return {"overdue": [r for r in rows if r["deadline"] < today],
            "upcoming": [r for r in rows if r["deadline"] >= today]}


# ---------------------------------------------------------------- regimes and flags

def list_regimes_with_counts(session: Session, scope: Scope) -> list[Row]:
    """Every regime with its definition and how many systems (in scope) it catches."""
    counts_q = (sa.select(F.regime_id, F.status, F.projected, sa.func.count().label("n"))
                .join(S, sa.and_(F.subject_kind == "system", F.subject_id == S.id))
                .where(F.status.in_(CROSSING)).group_by(F.regime_id, F.status, F.projected))
    counts: dict[str, Row] = {}
    for rid, status, projected, n in session.execute(scope.restrict(counts_q, S.provider_id)):
        entry = counts.setdefault(rid, {"above": 0, "likely_above": 0, "projected": 0})
        entry["projected" if projected else status] += n
    out = []
    for regime in session.execute(sa.select(Regime).order_by(R.jurisdiction, R.id)).scalars():
        loaded = _json(regime.definition_json)
        definition: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        raw_status = definition.get("status")
        events: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
        row = _model_dict(regime)
        row.pop("definition_json")
        c = counts.get(regime.id, {"above": 0, "likely_above": 0, "projected": 0})
        out.append({**row, **c, "catches": c["above"] + c["likely_above"],
                    "dates": {k: str(v) for k, v in events.items() if k != "state"},
                    "sources": definition.get("sources") or [], "definition": definition})
    return out


def list_flags(session: Session, scope: Scope, *, crossing_only: bool = True, limit: int = 500) -> list[Row]:
    q = (sa.select(F.regime_id, F.status, F.projected, F.value_central, F.threshold, F.deadline,
                   F.notified_at, S.id.label("system_id"), S.name.label("system"), S.version,
                   P.slug.label("provider"))
         .join(S, sa.and_(F.subject_kind == "system", F.subject_id == S.id)).join(P, P.id == S.provider_id)
         .order_by(F.deadline.is_(None), F.deadline, S.name).limit(limit))
    if crossing_only:
        q = q.where(F.status.in_(CROSSING))
    return [dict(r._mapping) for r in session.execute(scope.restrict(q, S.provider_id))]


# ---------------------------------------------------------------- tokens and sinks

def list_tokens(session: Session, scope: Scope) -> list[Row]:
    """API tokens (never their secret): a provider's own, or all for regulators and admins."""
    tok: Any = ApiToken
    q = (sa.select(tok.id, tok.name, tok.token_prefix, tok.created_at, tok.revoked_at, tok.last_used_at,
                   P.slug.label("provider"))
         .join(P, P.id == tok.provider_id, isouter=True).order_by(tok.created_at.desc(), tok.id.desc()))
    return [dict(r._mapping) for r in session.execute(scope.restrict(q, tok.provider_id))]


def list_subscriptions(session: Session, scope: Scope) -> list[Row]:
    """Alert sinks configured in the dashboard (administrators only)."""
    if scope.role != "admin":
        raise PermissionError("only administrators manage alert sinks")
    sub: Any = Subscription
    return [dict(r._mapping) for r in session.execute(
        sa.select(sub.id, sub.sink, sub.scope_kind, sub.scope_value, sub.created_at).order_by(sub.id))]


def as_of(value: datetime | date | None) -> str:
    """A timestamp or date as the dashboard writes it (UTC, minutes)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()
