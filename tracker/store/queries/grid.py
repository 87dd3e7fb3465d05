"""The systems grid: server-side paging, sorting and filtering through a column whitelist.

Figures and status come from ``system_status`` (one narrow row per evaluated system, see
``tracker.registry.status``), never from the wide estimate and flag tables, so with 100,000
systems a page is an index scan plus LIMIT:

* a page sorted by one summary column reads that column's index in order (``ORDER BY ... DESC
  NULLS LAST, system_id`` matches ``ix_system_status_training`` and its siblings) for the systems
  that have the figure, then, only when that runs out, the systems without it by id: the same
  order as one ``NULLS LAST`` sort over every system, which no index could serve across the outer
  join a system without a summary row needs;
* a filter that only a summary row can satisfy (``training > 1e25``, ``status = above``) drives
  the query from the summary, so the count and the page never read systems that cannot match;
* system and provider columns are joined only when a filter or sort uses them.

Beside the summary figures, a page's rows carry what the summary leaves empty: the projected
training figure of a system with only planned or in-progress compute, the latest filed usage
period's inference figure when no current 30-day figure exists, and the status under each regime
in force that the tracker assesses (``regime:<id>`` columns, filterable like the overall status).
These are read for the page's ids only, and masked by scope as the summary figures are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import pydantic
import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.queries.common import (
    MAX_EXPORT_ROWS,
    MAX_PAGE_ROWS,
    SS,
    STATUS_RANK,
    F,
    P,
    R,
    Row,
    S,
    as_date,
    as_number,
    last_run_end,
    parse_json,
    rank_expr,
    rank_in,
    status_label,
)
from tracker.store.queries.confidential import confidential_lineage, lineage_regimes, masked_expr, own_low_expr
from tracker.store.queries.regime_labels import regime_names
from tracker.store.queries.system import latest_inference_periods, projected_training
from tracker.store.types import utcnow

Source = Literal["system", "provider", "summary"]


@dataclass(frozen=True)
class GridColumn:
    kind: Literal["text", "number", "date", "status"]
    source: Source  # the table the column lives in: which joins a filter or sort on it needs
    expr: Any


_COLUMNS: dict[str, GridColumn] = {
    "id": GridColumn("number", "system", S.id),
    "provider": GridColumn("text", "provider", P.slug),
    "name": GridColumn("text", "system", S.name),
    "version": GridColumn("text", "system", S.version),
    "publication_date": GridColumn("date", "system", S.publication_date),
    # Nothing files a publication date; the end of the last current run (planned end for planned
    # runs) is the date a system's compute is known from, and what the overview plots it at.
    "last_run_end": GridColumn("date", "system", last_run_end()),
    "training_flop": GridColumn("number", "summary", SS.training_central_flop),
    "training_low_flop": GridColumn("number", "summary", SS.training_low_flop),
    "training_high_flop": GridColumn("number", "summary", SS.training_high_flop),
    "methods": GridColumn("text", "summary", SS.training_methods),
    "confidence": GridColumn("text", "summary", SS.training_confidence),
    "inference_flop_30d": GridColumn("number", "summary", SS.inference_30d_central_flop),
    "status": GridColumn("status", "summary", SS.status_rank),
}

GRID_COLUMNS = tuple(_COLUMNS)
REGIME_COLUMN = "regime:"  # ``regime:<id>``: the system's status under that regime


def _scoped_columns(session: Session, scope: Scope) -> dict[str, GridColumn]:
    """The whitelist with the figures a provider may not read masked inside the SQL (its systems
    built on another provider's confidential system: tracker.store.queries.confidential), so that
    no sort or filter can reveal them either."""
    masked = confidential_lineage(session, scope)
    regimes = _regime_columns(session, masked)
    if not masked:
        return {**_COLUMNS, **regimes}
    key = SS.system_id

    def summary(kind: Literal["number", "text", "status"], expr: Any) -> GridColumn:
        return GridColumn(kind, "summary", expr)

    return {**_COLUMNS, **regimes,
            "training_flop": summary("number", masked_expr(SS.training_central_flop, key, masked)),
            "training_low_flop": summary("number", masked_expr(SS.training_low_flop, key, masked, own_low_expr(key))),
            "training_high_flop": summary("number", masked_expr(SS.training_high_flop, key, masked)),
            "methods": summary("text", masked_expr(SS.training_methods, key, masked)),
            "confidence": summary("text", masked_expr(SS.training_confidence, key, masked)),
            "status": summary("status", masked_expr(SS.status_rank, key, masked))}


def _regime_columns(session: Session, masked: frozenset[int]) -> dict[str, GridColumn]:
    """A status column per stored regime: the rank of the system's flag under it (no flag: NULL,
    read as unknown), masked to unknown where the regime reads a lineage the scope may not see."""
    hidden = lineage_regimes(session) if masked else frozenset()
    columns = {}
    for regime_id in session.execute(sa.select(R.id)).scalars():
        rank = (sa.select(rank_expr(F))
                .where(F.subject_kind == "system", F.subject_id == S.id, F.regime_id == regime_id)
                .correlate(S).scalar_subquery())
        if regime_id in hidden:
            rank = masked_expr(rank, S.id, masked)
        columns[f"{REGIME_COLUMN}{regime_id}"] = GridColumn("status", "system", rank)
    return columns


def status_regimes(session: Session, today: date | None = None) -> list[Row]:
    """The regimes the grid shows a status column for: in force on ``today`` and assessable by the
    tracker (a regime whose metric it does not hold has no per-system status to show), each with
    its ``id``, ``name`` and grid ``col_id``, ordered as the regimes page orders them."""
    from tracker.regimes.model import HELD_METRICS, Regime  # the regime model; loaded on use

    today = today or utcnow().date()
    rows = session.execute(sa.select(R.id, R.metric, R.state, R.definition_json)
                           .order_by(R.jurisdiction, R.id)).all()
    names = regime_names(session)
    shown = []
    for regime_id, metric, state, definition in rows:
        try:
            regime = Regime.model_validate_json(definition)
            keep = regime.phase_on(today) == "in_force" and regime.unknown_reason is None
        except (pydantic.ValidationError, ValueError):
            # A definition the model no longer reads: judge from the stored columns.
            keep = state in ("in_force", "guidance") and metric in HELD_METRICS
        if keep:
            shown.append({"id": regime_id, "name": names.get(regime_id, regime_id),
                          "col_id": f"{REGIME_COLUMN}{regime_id}"})
    return shown


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

def _day(value: Any) -> date | None:
    try:
        return None if not value else date.fromisoformat(str(value)[:10])
    except ValueError:
        return None

def _status_ranks(kind: str, value: Any) -> list[int] | None:
    """Status is stored as a rank; match the typed text against the labels (no flag: unknown)."""
    if kind in ("blank", "notBlank") or value is None:
        return None
    text = str(value).lower().strip().replace(" ", "_")
    tests: dict[str, Callable[[str], bool]] = {
        "contains": lambda s: text in s, "notContains": lambda s: text not in s,
        "equals": lambda s: s == text, "notEqual": lambda s: s != text,
        "startsWith": lambda s: s.startswith(text), "endsWith": lambda s: s.endswith(text),
    }
    test = tests.get(kind)
    return None if test is None else [r for s, r in STATUS_RANK.items() if test(s)]


@dataclass(frozen=True)
class _Condition:
    clause: ColumnElement[bool]
    needs_row: bool  # no row with the column NULL matches: only systems with a summary row can


def _condition(column: GridColumn, model: Mapping[str, Any]) -> _Condition | None:
    expr = column.expr
    if "conditions" in model or "operator" in model:
        found = [_condition(column, c) for c in model.get("conditions") or [] if isinstance(c, Mapping)]
        parts = [p for p in found if p is not None]
        if not parts:
            return None
        if str(model.get("operator", "AND")).upper() == "OR":
            return _Condition(sa.or_(*[p.clause for p in parts]), all(p.needs_row for p in parts))
        return _Condition(sa.and_(*[p.clause for p in parts]), any(p.needs_row for p in parts))
    kind = str(model.get("type", "contains" if column.kind in ("text", "status") else "equals"))
    # The kinds that match a NULL (no figure): every other kind needs a value to compare.
    matches_null = kind in ("blank", "notEqual", "notContains")
    clause: ColumnElement[bool] | None
    if column.kind == "status":
        ranks = _status_ranks(kind, model.get("filter"))
        if ranks is None:
            return None
        clause, matches_null = rank_in(expr, ranks), STATUS_RANK["unknown"] in ranks
    elif column.kind == "text":
        clause = _text_condition(expr, kind, model.get("filter"))
    elif column.kind == "number":
        clause = _ordered_condition(expr, kind, as_number(model.get("filter")), as_number(model.get("filterTo")))
    else:
        clause = _ordered_condition(expr, kind, _day(model.get("dateFrom") or model.get("filter")),
                                    _day(model.get("dateTo")))
    return None if clause is None else _Condition(clause, not matches_null)


@dataclass(frozen=True)
class _Filters:
    clauses: list[ColumnElement[bool]]
    sources: set[Source]
    needs_row: bool  # some condition holds only for systems with a summary row


def _filters(filter_model: Mapping[str, Any] | None, columns: Mapping[str, GridColumn] = _COLUMNS) -> _Filters:
    clauses: list[ColumnElement[bool]] = []
    sources: set[Source] = set()
    needs_row = False
    for col_id, model in (filter_model or {}).items():
        column = columns.get(col_id)
        if column is None or not isinstance(model, Mapping):
            continue  # not in the whitelist: ignored, never interpolated
        condition = _condition(column, model)
        if condition is None:
            continue
        clauses.append(condition.clause)
        sources.add(column.source)
        needs_row = needs_row or (column.source == "summary" and condition.needs_row)
    return _Filters(clauses, sources, needs_row)


def _from(scope: Scope, selected: Sequence[Any], sources: set[Source], *, from_summary: bool) -> Any:
    """``selected`` over the tables ``sources`` need, within the scope.

    ``from_summary``: driven by ``system_status`` (only systems with a summary row; the scope on
    its copy of the system's provider, so an index on it serves a provider's view); otherwise by
    ``ai_system`` with the summary outer-joined when needed."""
    if from_summary:
        q = sa.select(*selected).select_from(SS)
        if sources & {"system", "provider"}:
            q = q.join(S, S.id == SS.system_id)
        if "provider" in sources:
            q = q.join(P, P.id == S.provider_id)
        return scope.restrict(q, SS.provider_id)
    q = sa.select(*selected).select_from(S)
    if "provider" in sources:
        q = q.join(P, P.id == S.provider_id)
    if "summary" in sources:
        q = q.join(SS, SS.system_id == S.id, isouter=True)
    return scope.restrict(q, S.provider_id)


def _sort_keys(sort_model: Sequence[Mapping[str, Any]] | None,
               columns: Mapping[str, GridColumn] = _COLUMNS) -> list[tuple[GridColumn, bool]]:
    keys = []
    for item in sort_model or []:
        column = columns.get(str(item.get("colId")))
        if column is not None:
            keys.append((column, item.get("sort") == "desc"))
    return keys


def _order(keys: Sequence[tuple[GridColumn, bool]]) -> list[Any]:
    return [c.expr.desc().nulls_last() if desc else c.expr.asc().nulls_last() for c, desc in keys]


def _count(session: Session, q: Any) -> int:
    return int(session.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one())


def _page_ids(session: Session, scope: Scope, filters: _Filters, keys: list[tuple[GridColumn, bool]],
              start: int, size: int) -> list[int]:
    sources = filters.sources | {c.source for c, _ in keys}
    # Only systems with a summary row can match: read from the summary (its id is the system's).
    from_summary = filters.needs_row
    key = SS.system_id if from_summary else S.id
    if len(keys) == 1 and keys[0][0].source == "summary":
        # Systems with the figure in the index's order, then (only once those run out) the
        # systems without it by id: what ORDER BY figure NULLS LAST, id gives over all of them.
        figure = keys[0][0].expr
        head = (_from(scope, [SS.system_id], sources, from_summary=True)
                .where(*filters.clauses, figure.is_not(None)))
        ids = [row[0] for row in session.execute(
            head.order_by(*_order(keys), SS.system_id).offset(start).limit(size))]
        if len(ids) == size:
            return ids
        with_figure = start + len(ids) if ids else _count(session, head)
        tail = (_from(scope, [key], sources, from_summary=from_summary)
                .where(*filters.clauses, figure.is_(None)))
        return ids + [row[0] for row in session.execute(
            tail.order_by(key).offset(max(start - with_figure, 0)).limit(size - len(ids)))]
    q = _from(scope, [key], sources, from_summary=from_summary).where(*filters.clauses)
    return [row[0] for row in session.execute(q.order_by(*_order(keys), key).offset(start).limit(size))]


def _grid_select(columns: Mapping[str, GridColumn] = _COLUMNS) -> list[Any]:
    # Per-regime statuses are read for the page's ids in one query (_with_regime_statuses), not as
    # one correlated subquery per regime and row.
    return [c.expr.label(name) for name, c in columns.items() if not name.startswith(REGIME_COLUMN)]

def _grid_row(r: Any) -> Row:
    row = dict(r._mapping)
    row["status"] = status_label(row["status"]) or "unknown"
    row["publication_date"] = as_date(row["publication_date"])
    return row

def systems_page(session: Session, scope: Scope, start_row: int, end_row: int,
                 sort_model: Sequence[Mapping[str, Any]] | None = None,
                 filter_model: Mapping[str, Any] | None = None) -> tuple[list[Row], int]:
    """Rows ``start_row`` to ``end_row`` (exclusive) of the registry and the filtered total."""
    start = max(int(start_row), 0)
    size = min(max(int(end_row) - start, 0), MAX_PAGE_ROWS)
    columns = _scoped_columns(session, scope)
    filters = _filters(filter_model, columns)
    total = _count(session, _from(scope, [SS.system_id if filters.needs_row else S.id], filters.sources,
                                  from_summary=filters.needs_row).where(*filters.clauses))
    ids = _page_ids(session, scope, filters, _sort_keys(sort_model, columns), start, size) if size else []
    if not ids:
        return [], total
    # The wide columns for the page's rows only.
    wide = _from(scope, _grid_select(columns), {"provider", "summary"}, from_summary=False).where(S.id.in_(ids))
    by_id = {row.id: _grid_row(row) for row in session.execute(wide)}
    _with_flag_notes(session, scope, by_id)
    _with_missing_figures(session, scope, by_id)
    _with_regime_statuses(session, scope, by_id)
    return [by_id[i] for i in ids if i in by_id], total


def systems_export(session: Session, scope: Scope, sort_model: Sequence[Mapping[str, Any]] | None = None,
                   filter_model: Mapping[str, Any] | None = None,
                   limit: int = MAX_EXPORT_ROWS) -> list[Row]:
    """The grid's current view (same sort and filters), up to ``limit`` rows."""
    columns = _scoped_columns(session, scope)
    filters = _filters(filter_model, columns)
    q = (_from(scope, _grid_select(columns), {"provider", "summary"}, from_summary=False)
         .where(*filters.clauses).order_by(*_order(_sort_keys(sort_model, columns)), S.id))
    rows = [_grid_row(r) for r in session.execute(q.limit(limit))]
    _with_missing_figures(session, scope, {row["id"]: row for row in rows})
    return rows


def _with_flag_notes(session: Session, scope: Scope, rows: dict[int, Row]) -> None:
    """``flag_notes`` on the page's rows: each crossing still conditional on what compute does not
    settle ("<regime> conditional: <conditions>") and each tier ("<regime> tier <id>"). One query
    for the page's ids (already in the caller's scope); nothing for a system whose figures are
    masked (a conditional crossing or a tier would tell its lineage's compute)."""
    if not rows:
        return
    masked = confidential_lineage(session, scope, list(rows))
    shown = [i for i in rows if i not in masked]
    notes: dict[int, list[str]] = {}
    if shown:
        q = (sa.select(F.subject_id, F.regime_id, F.conditional, F.unheld_conditions, F.tier)
             .where(F.subject_kind == "system", F.subject_id.in_(shown),
                    sa.or_(F.conditional.is_(True), F.tier.is_not(None)))
             .order_by(F.subject_id, F.regime_id))
        flags = session.execute(q).all()
        names = regime_names(session, {row[1] for row in flags})
        for system_id, regime_id, conditional, unheld, tier in flags:
            name = names.get(regime_id, regime_id)
            if conditional:
                notes.setdefault(system_id, []).append(
                    f"{name} conditional: {'; '.join(str(c) for c in parse_json(unheld) or [])}")
            if tier:
                notes.setdefault(system_id, []).append(f"{name} tier {tier}")
    for system_id, row in rows.items():
        row["flag_notes"] = " · ".join(notes.get(system_id, []))


def _with_missing_figures(session: Session, scope: Scope, rows: dict[int, Row]) -> None:
    """What the summary leaves empty, on the rows given (already in the caller's scope):

    * ``projected_flop`` (``_low``/``_high``): the projected training figure of a system with no
      training figure, i.e. only planned or in-progress compute (withheld where masked, by
      ``projected_training``; a masked system's own lower bound is not a missing figure);
    * ``inference_latest_flop`` with ``inference_period_start``/``_end``: the latest filed usage
      period's figure of a system with no current 30-day figure (its usage is older than 30 days).
    """
    no_training = [i for i, r in rows.items() if r.get("training_flop") is None and r.get("training_low_flop") is None]
    no_inference = [i for i, r in rows.items() if r.get("inference_flop_30d") is None]
    projected = projected_training(session, scope, no_training) if no_training else {}
    latest = latest_inference_periods(session, scope, no_inference) if no_inference else {}
    for system_id, row in rows.items():
        figure = projected.get(system_id) or {}
        row["projected_flop"] = figure.get("central")
        row["projected_low_flop"] = figure.get("low")
        row["projected_high_flop"] = figure.get("high")
        period = latest.get(system_id) or {}
        row["inference_latest_flop"] = period.get("central")
        row["inference_period_start"] = period.get("period_start")
        row["inference_period_end"] = period.get("period_end")


def _with_regime_statuses(session: Session, scope: Scope, rows: dict[int, Row]) -> None:
    """``regime:<id>`` = ``{"status", "projected"}`` on each row for every regime the system has a
    flag under (one query for the page's ids); lineage regimes of masked systems read unknown.
    ``status_projected``: the highest status comes from planned or in-progress compute."""
    if not rows:
        return
    masked = confidential_lineage(session, scope, list(rows))
    none = {f"{REGIME_COLUMN}{regime_id}": None for regime_id in session.execute(sa.select(R.id)).scalars()}
    for row in rows.values():  # no flag under a regime: no status to show
        row.update(none, status_projected=False)
    hidden = lineage_regimes(session) if masked else frozenset()
    q = (sa.select(F.subject_id, F.regime_id, F.status, F.projected)
         .where(F.subject_kind == "system", F.subject_id.in_(list(rows))))
    for system_id, regime_id, status, projected in session.execute(q):
        if system_id in masked and regime_id in hidden:
            status, projected = "unknown", False
        rows[system_id][f"{REGIME_COLUMN}{regime_id}"] = {"status": status, "projected": bool(projected)}
    for row in rows.values():
        # The highest status is projected when every flag at that status is: planned compute alone
        # puts the system there.
        top = [v for k, v in row.items() if k.startswith(REGIME_COLUMN) and v and v["status"] == row["status"]]
        row["status_projected"] = bool(top) and all(v["projected"] for v in top)
