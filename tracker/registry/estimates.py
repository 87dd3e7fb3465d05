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
WRITE_CHUNK_SYSTEMS = 100_000


def estimates_long(result: RegistryResult) -> pl.DataFrame:
    """One row per system and estimate kind, shaped like the ``estimate`` table, without the runs'
    inputs (``with_run_inputs`` adds them to the rows written)."""
    systems = result.systems
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
    return pl.concat([*parts, periods], how="diagonal_relaxed")


def with_run_inputs(rows: pl.DataFrame, run_estimates: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (estimate rows written together) with each system's runs JSON on one of its rows.

    The runs an estimate rests on are the same for every kind of one system computed together, so
    they are stored once per system and write: on its first row in ``ESTIMATE_KINDS`` order (the
    training row when it is written). Its other rows of those kinds keep ``inputs_json`` null and
    are read with the JSON of the row written with them (same system and ``computed_at``;
    tracker.store.queries.system.shared_run_inputs). Inference-period rows keep their own."""
    order = pl.col("kind").replace_strict(list(ESTIMATE_KINDS), list(range(len(ESTIMATE_KINDS))),
                                          default=None, return_dtype=pl.Int32)
    run_rows = rows.filter(order.is_not_null())
    carriers = (run_rows.select("system_id", "kind", order.alias("_order"))
                .sort("system_id", "_order").unique("system_id", keep="first", maintain_order=True)
                .select("system_id", "kind"))
    wanted = carriers.get_column("system_id")
    runs_json = run_inputs_json(run_estimates.filter(
        pl.col("system_key").cast(pl.Int64, strict=False).is_in(wanted.implode())))
    carried = carriers.join(runs_json, on="system_id", how="inner").rename({"inputs_json": "_runs_json"})
    joined = rows.join(carried, on=["system_id", "kind"], how="left", maintain_order="left")
    if "inputs_json" not in joined.columns:
        return joined.rename({"_runs_json": "inputs_json"})
    return joined.with_columns(pl.coalesce("inputs_json", "_runs_json").alias("inputs_json")).drop("_runs_json")


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
    ).sort("system_id", maintain_order=True)
    computed_at = utcnow()
    written = 0
    # The runs' JSON is built for a bounded number of systems at a time: written out for the whole
    # registry at once it is most of the nightly's memory (~1 KB per system).
    bounds = inserts.get_column("system_id").unique().sort()
    for start in range(0, len(bounds), WRITE_CHUNK_SYSTEMS):
        first, last = bounds[start], bounds[min(start + WRITE_CHUNK_SYSTEMS, len(bounds)) - 1]
        part = inserts.filter(pl.col("system_id").is_between(first, last))
        runs = result.run_estimates.filter(
            pl.col("system_key").cast(pl.Int64, strict=False).is_between(first, last))
        written += insert_frame(conn, Estimate.__table__, with_run_inputs(part, runs).select(  # type: ignore[attr-defined]
            "system_id", "kind", "period_start", "period_end", "central_flop", "low_flop", "high_flop", "methods",
            "confidence", "inputs_json",
            pl.lit(METHODOLOGY_VERSION).alias("methodology_version"),
            pl.lit(computed_at).dt.replace_time_zone("UTC").alias("computed_at"),
            pl.lit(True).alias("is_current"),
        ))
    return written


def close(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    both_null = a.is_null() & b.is_null()
    return both_null | ((a - b).abs() <= 1e-9 * pl.max_horizontal(a.abs(), b.abs()))


