"""The read-side summaries the dashboard sorts, filters and counts by, kept by the evaluation.

* ``system_status``: one row per system with its highest flag status over all regimes, whether a
  crossing is projected, its current training estimate (central, 90% interval, methods,
  confidence), its current 30-day inference central and its provider (for the access scope).
* ``system_crossing``: one row per system and regime the system is above or likely above, with
  the flag's projected, deadline and notified state and the system's training central.

Both are rebuilt from what is stored (flags and current estimates), for the systems given, after
the evaluation has written their estimates and flags in the same transaction. A call touches the
rows of those systems only and never assumes it sees the whole registry, so an evaluation of the
few systems a filing changed keeps the summaries right; nothing registry-wide (ranks, totals) is
stored: the views compute those at query time through the summaries' indexes. Rows that did not
change are not rewritten, so a repeated evaluation writes nothing here either.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from tracker.registry.estimates import ID_CHUNK
from tracker.store.bulk import insert_frame
from tracker.store.models import AISystem, Estimate, Flag, SystemCrossing, SystemStatus, columns
from tracker.store.queries.common import CROSSING, STATUS_RANK
from tracker.store.types import utcnow

STATUS_SCHEMA: dict[str, Any] = {
    "system_id": pl.Int64, "provider_id": pl.Int64, "status_rank": pl.Int64, "projected": pl.Boolean,
    "training_central_flop": pl.Float64, "training_low_flop": pl.Float64, "training_high_flop": pl.Float64,
    "training_methods": pl.String, "training_confidence": pl.String, "inference_30d_central_flop": pl.Float64,
}
CROSSING_SCHEMA: dict[str, Any] = {
    "system_id": pl.Int64, "regime_id": pl.String, "provider_id": pl.Int64, "status_rank": pl.Int64,
    "projected": pl.Boolean, "deadline": pl.Date, "notified": pl.Boolean, "training_central_flop": pl.Float64,
}


def refresh_system_status(session: Session, system_ids: Iterable[int] | None = None) -> int:
    """Rebuild both summaries for ``system_ids`` (None: every system) from the stored flags and
    current estimates; returns how many summary rows were written."""
    conn = session.connection()
    if system_ids is None:
        return _refresh(conn, None)
    ids = sorted(set(system_ids))
    return sum(_refresh(conn, ids[start:start + ID_CHUNK]) for start in range(0, len(ids), ID_CHUNK))


def _frame(conn: Connection, query: Any, schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame([tuple(r) for r in conn.execute(query)], schema=schema, orient="row")


def _rank() -> Any:
    f = columns(Flag)
    return sa.case(*[(f.status == s, r) for s, r in STATUS_RANK.items()], else_=0)


def _status_rows(conn: Connection, ids: Sequence[int] | None) -> pl.DataFrame:
    s, f, e = columns(AISystem), columns(Flag), columns(Estimate)
    systems = sa.select(s.id.label("system_id"), s.provider_id)
    flags = (sa.select(f.subject_id, sa.func.max(_rank()),
                       sa.func.max(sa.case((sa.and_(f.projected.is_(True), f.status.in_(CROSSING)), 1), else_=0)))
             .where(f.subject_kind == "system").group_by(f.subject_id))
    # Every current training and 30-day inference estimate, oldest id first so the newest wins below.
    estimates = (sa.select(e.system_id, e.kind, e.central_flop, e.low_flop, e.high_flop, e.methods, e.confidence)
                 .where(e.is_current.is_(True), e.kind.in_(("training", "inference_30d"))).order_by(e.id))
    if ids is not None:
        systems, flags = systems.where(s.id.in_(ids)), flags.where(f.subject_id.in_(ids))
        estimates = estimates.where(e.system_id.in_(ids))
    owners = _frame(conn, systems, {"system_id": pl.Int64, "provider_id": pl.Int64})
    ranks = _frame(conn, flags, {"system_id": pl.Int64, "status_rank": pl.Int64, "projected": pl.Int64})
    current = _frame(conn, estimates, {
        "system_id": pl.Int64, "kind": pl.String, "central": pl.Float64, "low": pl.Float64, "high": pl.Float64,
        "methods": pl.String, "confidence": pl.String}).unique(["system_id", "kind"], keep="last")
    training = current.filter(pl.col("kind") == "training").select(
        "system_id", training_central_flop="central", training_low_flop="low", training_high_flop="high",
        training_methods="methods", training_confidence="confidence")
    inference = current.filter(pl.col("kind") == "inference_30d").select(
        "system_id", inference_30d_central_flop="central")
    return (owners.join(ranks, on="system_id", how="left")
            .join(training, on="system_id", how="left")
            .join(inference, on="system_id", how="left")
            .with_columns(pl.col("projected").fill_null(0).cast(pl.Boolean))
            .select(list(STATUS_SCHEMA)))


def _crossing_rows(conn: Connection, ids: Sequence[int] | None, status: pl.DataFrame) -> pl.DataFrame:
    f = columns(Flag)
    query = (sa.select(f.subject_id, f.regime_id, _rank(), f.projected, f.deadline, f.notified_at.is_not(None))
             .where(f.subject_kind == "system", f.status.in_(CROSSING)))
    if ids is not None:
        query = query.where(f.subject_id.in_(ids))
    rows = _frame(conn, query, {"system_id": pl.Int64, "regime_id": pl.String, "status_rank": pl.Int64,
                                "projected": pl.Boolean, "deadline": pl.Date, "notified": pl.Boolean})
    # Inner join: flags of a subject that is not a stored system are not shown by any view.
    owners = status.select("system_id", "provider_id", "training_central_flop")
    return rows.join(owners, on="system_id", how="inner").select(list(CROSSING_SCHEMA))


def _stored(conn: Connection, table: Any, schema: dict[str, Any], ids: Sequence[int] | None) -> pl.DataFrame:
    t = table.c
    query = sa.select(*[t[name] for name in schema])
    if ids is not None:
        query = query.where(t.system_id.in_(ids))
    return _frame(conn, query, schema)


def _changed_systems(new: pl.DataFrame, old: pl.DataFrame, key: list[str]) -> list[int]:
    """Systems with a row added, removed or different (compared exactly: both sides are copies of
    the same stored figures)."""
    values = [c for c in new.columns if c not in key]
    merged = new.with_columns(_new=pl.lit(True)).join(
        old.with_columns(_old=pl.lit(True)), on=key, how="full", coalesce=True, suffix="_old", nulls_equal=True)
    differs = (pl.col("_new").is_null() | pl.col("_old").is_null()
               | pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_old")) for c in values]))
    return sorted(set(merged.filter(differs)["system_id"].to_list()))


def _replace(conn: Connection, table: Any, rows: pl.DataFrame, systems: list[int], *, stamp: bool) -> int:
    for start in range(0, len(systems), ID_CHUNK):
        conn.execute(sa.delete(table).where(table.c.system_id.in_(systems[start:start + ID_CHUNK])))
    written = rows.filter(pl.col("system_id").is_in(systems))
    if stamp:
        written = written.with_columns(pl.lit(utcnow()).dt.replace_time_zone("UTC").alias("updated_at"))
    return insert_frame(conn, table, written)


def _refresh(conn: Connection, ids: Sequence[int] | None) -> int:
    status_table = SystemStatus.__table__  # type: ignore[attr-defined]
    crossing_table = SystemCrossing.__table__  # type: ignore[attr-defined]
    status = _status_rows(conn, ids)
    crossings = _crossing_rows(conn, ids, status)
    written = _replace(conn, status_table, status,
                       _changed_systems(status, _stored(conn, status_table, STATUS_SCHEMA, ids), ["system_id"]),
                       stamp=True)
    return written + _replace(
        conn, crossing_table, crossings,
        _changed_systems(crossings, _stored(conn, crossing_table, CROSSING_SCHEMA, ids), ["system_id", "regime_id"]),
        stamp=False)
