"""The systems grid: server-side paging, sorting and filtering through a column whitelist."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.models import (
    Estimate,
)
from tracker.store.queries.common import (
    MAX_EXPORT_ROWS,
    MAX_PAGE_ROWS,
    STATUS_RANK,
    P,
    Row,
    S,
    as_date,
    as_number,
    current_estimate,
    status_label,
    status_rank_of_system,
)


@dataclass(frozen=True)
class GridColumn:
    kind: Literal["text", "number", "date", "status"]
    expr: Callable[[Row], Any]  # builds the SQL expression from the query's aliases

def _grid_exprs(session: Session) -> tuple[dict[str, GridColumn], Row]:
    train = aliased(Estimate)
    infer = aliased(Estimate)
    aliases: Row = {"train": train, "infer": infer, "rank": status_rank_of_system(),
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
        return _ordered_condition(expr, kind, as_number(model.get("filter")), as_number(model.get("filterTo")))
    return _ordered_condition(expr, kind, _day(model.get("dateFrom") or model.get("filter")),
                              _day(model.get("dateTo")))

# Columns that live on the system or provider rows: filtering on these needs no estimate joins.
_IDENTITY_COLUMNS = frozenset({"id", "provider", "name", "version", "publication_date"})


def _grid_query(session: Session, scope: Scope, filter_model: Mapping[str, Any] | None,
                columns: dict[str, GridColumn], a: Row, selected: Sequence[Any], *,
                with_estimates: bool = True) -> Any:
    train, infer = a["train"], a["infer"]
    q = sa.select(*selected).select_from(S).join(P, P.id == S.provider_id)
    if with_estimates:
        q = (q.join(train, current_estimate(train, "training"), isouter=True)
             .join(infer, current_estimate(infer, "inference_30d"), isouter=True))
    q = scope.restrict(q, S.provider_id)
    for col_id, model in (filter_model or {}).items():
        column = columns.get(col_id)
        if column is None or not isinstance(model, Mapping):
            continue  # not in the whitelist: ignored, never interpolated
        condition = _condition(column, column.expr(a), model)
        if condition is not None:
            q = q.where(condition)
    return q


def _needs_estimates(names: Sequence[str]) -> bool:
    return any(name in GRID_COLUMNS and name not in _IDENTITY_COLUMNS for name in names)


def _grid_select(columns: dict[str, GridColumn], a: Row) -> list[Any]:
    return [columns[c].expr(a).label(c) for c in GRID_COLUMNS]

def _grid_row(r: Any) -> Row:
    row = dict(r._mapping)
    row["status"] = status_label(row["status"]) or "unknown"
    row["publication_date"] = as_date(row["publication_date"])
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
    filters = list(filter_model or {})
    sorts = [str(item.get("colId")) for item in sort_model or []]
    # The count joins estimates only when a filter needs them (they never change the row count).
    total = session.execute(sa.select(sa.func.count()).select_from(
        _grid_query(session, scope, filter_model, columns, a, [S.id],
                    with_estimates=_needs_estimates(filters)).subquery())).scalar_one()
    # The page's ids first, so the wide columns (status subqueries, both estimates) are computed
    # for the rows shown rather than for every row skipped to reach a deep page.
    page_ids = _ordered(_grid_query(session, scope, filter_model, columns, a, [S.id],
                                    with_estimates=_needs_estimates(filters + sorts)),
                        sort_model, columns, a).offset(start).limit(size)
    ids = [row[0] for row in session.execute(page_ids)]
    if not ids:
        return [], total
    wide = _grid_query(session, scope, None, columns, a, _grid_select(columns, a)).where(S.id.in_(ids))
    by_id = {row.id: _grid_row(row) for row in session.execute(wide)}
    return [by_id[i] for i in ids if i in by_id], total


def systems_export(session: Session, scope: Scope, sort_model: Sequence[Mapping[str, Any]] | None = None,
                   filter_model: Mapping[str, Any] | None = None,
                   limit: int = MAX_EXPORT_ROWS) -> list[Row]:
    """The grid's current view (same sort and filters), up to ``limit`` rows."""
    columns, a = _grid_exprs(session)
    q = _ordered(_grid_query(session, scope, filter_model, columns, a, _grid_select(columns, a)),
                 sort_model, columns, a)
    return [_grid_row(r) for r in session.execute(q.limit(limit))]
