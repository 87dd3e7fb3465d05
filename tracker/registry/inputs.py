"""Read the current filed records into the frames the pure engines take.

Systems are keyed by their database id as text (``system_key``), so results map straight
back onto rows; clusters likewise by ``cluster_key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from tracker.store.models import AISystem, ComputeCluster, Flag, InferenceUsage, Provider, TrainingRun, columns

# Systems and clusters share the flag table; a prefix keeps their keys apart in one frame.
CLUSTER_PREFIX = "cluster:"


@dataclass(frozen=True)
class RegistryInputs:
    systems: pl.DataFrame
    runs: pl.DataFrame
    usage: pl.DataFrame
    clusters: pl.DataFrame
    previous_flags: pl.DataFrame


RUN_SCHEMA: dict[str, Any] = {
    "run_key": pl.String, "system_key": pl.String, "base_system_key": pl.String, "stage": pl.String,
    "status": pl.String, "accelerator": pl.String, "accelerator_count": pl.Float64,
    "training_hours": pl.Float64, "chip_hours": pl.Float64, "start_date": pl.Date, "end_date": pl.Date,
    "precision": pl.String, "utilization": pl.Float64, "parameters": pl.Float64,
    "active_parameters": pl.Float64, "training_tokens": pl.Float64, "reported_flop": pl.Float64,
}
SYSTEM_SCHEMA: dict[str, Any] = {
    "system_key": pl.String, "base_system_key": pl.String, "provider_id": pl.Int64,
    "provider": pl.String, "name": pl.String, "version": pl.String, "is_downstream_modifier": pl.Boolean,
}
USAGE_SCHEMA: dict[str, Any] = {
    "system_key": pl.String, "period_start": pl.Date, "period_end": pl.Date, "input_tokens": pl.Float64,
    "output_tokens": pl.Float64, "requests": pl.Float64, "mean_context_tokens": pl.Float64,
    "accelerator": pl.String, "accelerator_hours": pl.Float64, "utilization": pl.Float64,
}
CLUSTER_SCHEMA: dict[str, Any] = {
    "cluster_key": pl.String, "provider": pl.String, "provider_id": pl.Int64, "accelerator": pl.String,
    "accelerator_count": pl.Float64,
}
FLAG_SCHEMA: dict[str, Any] = {
    "subject_key": pl.String, "subject_kind": pl.String, "regime_id": pl.String, "status": pl.String,
    "projected": pl.Boolean, "first_flagged_on": pl.Date, "crossed_on": pl.Date, "deadline": pl.Date,
    "notified_at": pl.Datetime("us", "UTC"),
}


def _frame(session: Session, query: Any, schema: dict[str, Any]) -> pl.DataFrame:
    rows = session.execute(query).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def load_inputs(session: Session) -> RegistryInputs:
    s, p = columns(AISystem), columns(Provider)
    base = AISystem.__table__.alias("base")  # type: ignore[attr-defined]
    systems = _frame(
        session,
        sa.select(
            sa.cast(s.id, sa.String), sa.cast(s.base_system_id, sa.String),
            s.provider_id, p.slug, s.name, s.version,
            sa.and_(base.c.id.is_not(None), base.c.provider_id != s.provider_id),
        )
        .join(p.id.table, p.id == s.provider_id)
        .outerjoin(base, base.c.id == s.base_system_id),
        SYSTEM_SCHEMA,
    ).with_columns(pl.col("is_downstream_modifier").fill_null(False))
    t = columns(TrainingRun)
    runs = _frame(
        session,
        sa.select(
            sa.cast(t.id, sa.String), sa.cast(t.system_id, sa.String), sa.cast(t.base_system_id, sa.String),
            t.stage, t.status, t.accelerator, t.accelerator_count, t.training_hours, t.chip_hours,
            t.start_date, t.end_date, t.precision, t.utilization, t.parameters, t.active_parameters,
            t.training_tokens, t.reported_flop,
        ).where(t.is_current),
        RUN_SCHEMA,
    )
    u = columns(InferenceUsage)
    usage = _frame(
        session,
        sa.select(
            sa.cast(u.system_id, sa.String), u.period_start, u.period_end, u.input_tokens, u.output_tokens,
            u.requests, u.mean_context_tokens, u.accelerator, u.accelerator_hours, u.utilization,
        ).where(u.is_current),
        USAGE_SCHEMA,
    )
    c = columns(ComputeCluster)
    clusters = _frame(
        session,
        sa.select(sa.cast(c.id, sa.String), p.slug, c.provider_id, c.accelerator, c.accelerator_count)
        .join(p.id.table, p.id == c.provider_id)
        .where(c.is_current),
        CLUSTER_SCHEMA,
    ).with_columns((CLUSTER_PREFIX + pl.col("cluster_key")).alias("cluster_key"))
    f = columns(Flag)
    flags = _frame(
        session,
        sa.select(
            sa.cast(f.subject_id, sa.String), f.subject_kind, f.regime_id, f.status, f.projected,
            f.first_flagged_on, f.crossed_on, f.deadline, f.notified_at,
        ),
        FLAG_SCHEMA,
    ).with_columns(
        pl.when(pl.col("subject_kind") == "cluster")
        .then(CLUSTER_PREFIX + pl.col("subject_key"))
        .otherwise(pl.col("subject_key"))
        .alias("subject_key")
    )
    return RegistryInputs(systems=systems, runs=runs, usage=usage, clusters=clusters, previous_flags=flags)
