"""Constants, column aliases and expressions shared by the query modules."""

from __future__ import annotations

import functools
import json
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from tracker.store.models import (
    AISystem,
    Alert,
    Estimate,
    Filing,
    Flag,
    FlagEvent,
    InferenceUsage,
    Provider,
    Regime,
    SystemCrossing,
    SystemStatus,
    TrainingRun,
)

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
SS: Any = SystemStatus

SC: Any = SystemCrossing

def rank_expr(flag: Any = F) -> ColumnElement[int]:
    """A flag's status as its rank (``flag``: the Flag table or an alias of it)."""
    return sa.case(*[(flag.status == s, r) for s, r in STATUS_RANK.items()], else_=0)

def rank_in(rank: Any, ranks: list[int]) -> ColumnElement[bool]:
    """``coalesce(rank, 0) IN ranks`` written so the database can still use an index on ``rank``
    and treat the join that supplies it as an inner join when NULL (no flag: unknown) is excluded."""
    if STATUS_RANK["unknown"] in ranks:
        return sa.or_(rank.in_(ranks), rank.is_(None))
    return rank.in_(ranks)

def date_of(session: Session, column: Any) -> Any:
    # SQLite stores timestamps as text and CAST(... AS DATE) would yield a number there.
    if session.get_bind().dialect.name == "sqlite":
        return sa.func.date(column)
    return sa.cast(column, sa.Date)

def last_run_end() -> Any:
    return (sa.select(sa.func.max(TR.end_date))
            .where(TR.system_id == S.id, TR.is_current.is_(True))
            .correlate(S).scalar_subquery())

def plot_date(session: Session) -> Any:
    """The date a system is plotted at: publication, else last run end, else registration."""
    return sa.func.coalesce(S.publication_date, last_run_end(), date_of(session, S.created_at))

def method_list(text: str | None) -> list[str]:
    return list(_methods(text))

@functools.lru_cache(maxsize=256)
def _methods(text: str | None) -> tuple[str, ...]:
    # A handful of distinct method lists, parsed for thousands of plotted systems per render.
    return tuple(m for m in (text or "").split(",") if m)

def status_label(rank: int | None) -> str | None:
    return None if rank is None else RANK_STATUS.get(int(rank), "unknown")

def as_date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])

def as_number(value: Any) -> float | None:
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None

def parse_json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None

def model_dict(obj: Any) -> Row:
    return {c.key: getattr(obj, c.key) for c in sa.inspect(type(obj)).columns}

def alert_row(alert: Any, provider: str | None, system: str | None) -> Row:
    payload = parse_json(alert.payload_json) or {}
    return {"id": alert.id, "kind": alert.kind, "provider": provider, "system": system,
            "system_id": alert.system_id, "regime_id": alert.regime_id, "created_at": alert.created_at,
            "acknowledged_at": alert.acknowledged_at, "acknowledged_by": alert.acknowledged_by,
            "status": payload.get("status") if isinstance(payload, dict) else None,
            "projected": bool(payload.get("projected")) if isinstance(payload, dict) else False,
            "deadline": payload.get("deadline") if isinstance(payload, dict) else None}


def as_of(value: datetime | date | None) -> str:
    """A timestamp or date as the dashboard writes it (UTC, minutes)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()
