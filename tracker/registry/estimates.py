"""Estimates in the store: one row per system and kind (and usage period), appended only when
a figure changes; the newest row of each is current, the older ones are the history."""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from tracker.estimate import METHODOLOGY_VERSION
from tracker.registry.compute import RegistryResult
from tracker.registry.inputs import Subset, chunked
from tracker.store.bulk import insert_frame
from tracker.store.models import Estimate, columns
from tracker.store.types import utcnow

ESTIMATE_KINDS: dict[str, str] = {
    "training": "training_flop",
    "modification": "own_training_flop",
    "projected": "projected_training_flop",
    "inference_30d": "inference_flop_30d",
}
PERIOD_INPUTS = ("input_tokens", "output_tokens", "requests", "mean_context_tokens", "accelerator",
                 "accelerator_hours", "utilization", "tokens_flop_central", "fleet_flop_central")
ID_CHUNK = 5_000


def estimates_long(result: RegistryResult) -> pl.DataFrame:
    """One row per system and estimate kind, shaped like the ``estimate`` table."""
    systems = result.systems
    runs_json = run_inputs_json(result.run_estimates)
    parts = []
    for kind, prefix in ESTIMATE_KINDS.items():
        methods_col = "methods_inference" if kind == "inference_30d" else "methods"
        methods = (
            pl.col(methods_col).list.join(",") if methods_col in systems.columns else pl.lit("")
        )
        confidence = pl.col("confidence") if kind != "inference_30d" else pl.lit(None, pl.String)
        parts.append(
            systems.filter(pl.col(f"{prefix}_central").is_not_null()).select(
                pl.col("system_key").cast(pl.Int64).alias("system_id"),
                pl.lit(kind).alias("kind"),
                pl.col(f"{prefix}_central").alias("central_flop"),
                pl.col(f"{prefix}_low").alias("low_flop"),
                pl.col(f"{prefix}_high").alias("high_flop"),
                methods.fill_null("").alias("methods"),
                confidence.alias("confidence"),
            )
        )
    periods = result.inference_periods.filter(pl.col("inference_flop_central").is_not_null()).select(
        pl.col("system_key").cast(pl.Int64).alias("system_id"),
        pl.lit("inference_period").alias("kind"),
        pl.col("inference_flop_central").alias("central_flop"),
        pl.col("inference_flop_low").alias("low_flop"),
        pl.col("inference_flop_high").alias("high_flop"),
        pl.col("methods").list.join(",").fill_null("").alias("methods"),
        pl.lit(None, pl.String).alias("confidence"),
        "period_start", "period_end",
        pl.struct(PERIOD_INPUTS).struct.json_encode().alias("inputs_json"),
    )
    long = pl.concat(parts, how="diagonal_relaxed").join(runs_json, on="system_id", how="left")
    return pl.concat([long, periods], how="diagonal_relaxed")


def run_inputs_json(run_estimates: pl.DataFrame) -> pl.DataFrame:
    """Each system's runs with every method's figure: the inputs an estimate rests on."""
    cols = ["run_key", "stage", "status",
            *[f"{m}_flop_{b}" for m in ("hardware", "architecture", "reported", "training")
              for b in ("central", "low", "high")],
            "utilization_used", "precision_used", "peak_flop_per_s", "notes"]
    present = [c for c in cols if c in run_estimates.columns]
    return (
        run_estimates.group_by("system_key")
        .agg(pl.struct(present).alias("runs"))
        .select(
            pl.col("system_key").cast(pl.Int64).alias("system_id"),
            pl.struct("runs").struct.json_encode().alias("inputs_json"),
        )
    )


def write_estimates(session: Session, result: RegistryResult, subset: Subset | None = None) -> int:
    """Append the estimates that changed and retire the rows they replace.

    ``subset`` None: ``result`` covers the whole registry, and every current row is compared.
    Otherwise ``result`` covers exactly ``subset``'s systems, and only their current rows are
    compared and retired: the other systems' rows are not read, let alone touched.
    """
    new = estimates_long(result)
    conn = session.connection()
    e = columns(Estimate)
    query = sa.select(e.id, e.system_id, e.kind, e.period_start, e.period_end, e.central_flop, e.low_flop,
                      e.high_flop).where(e.is_current)
    if subset is None:
        current_rows = list(conn.execute(query).all())
    else:
        current_rows = [row for part in chunked(subset.system_ids)
                        for row in conn.execute(query.where(e.system_id.in_(part))).all()]
    current = pl.DataFrame(
        [tuple(r) for r in current_rows], orient="row",
        schema={"id": pl.Int64, "system_id": pl.Int64, "kind": pl.String, "period_start": pl.Date,
                "period_end": pl.Date, "old_central": pl.Float64, "old_low": pl.Float64, "old_high": pl.Float64},
    )
    merged = new.join(current, on=["system_id", "kind", "period_start", "period_end"], how="full",
                      coalesce=True, nulls_equal=True)
    same = (
        close(pl.col("central_flop"), pl.col("old_central"))
        & close(pl.col("low_flop"), pl.col("old_low"))
        & close(pl.col("high_flop"), pl.col("old_high"))
    )
    changed = merged.filter(~same.fill_null(False))
    retire = changed.filter(pl.col("id").is_not_null())["id"].to_list()
    for start in range(0, len(retire), ID_CHUNK):
        conn.execute(sa.update(Estimate.__table__)  # type: ignore[attr-defined]
                     .where(e.id.in_(retire[start:start + ID_CHUNK])).values(is_current=False))
    inserts = changed.filter(pl.col("central_flop").is_not_null()).select(
        "system_id", "kind", "period_start", "period_end", "central_flop", "low_flop", "high_flop", "methods",
        "confidence", "inputs_json",
        pl.lit(METHODOLOGY_VERSION).alias("methodology_version"),
        pl.lit(utcnow()).dt.replace_time_zone("UTC").alias("computed_at"),
        pl.lit(True).alias("is_current"),
    )
    return insert_frame(conn, Estimate.__table__, inserts)  # type: ignore[attr-defined]


def close(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    both_null = a.is_null() & b.is_null()
    return both_null | ((a - b).abs() <= 1e-9 * pl.max_horizontal(a.abs(), b.abs()))


