"""Entry points of the estimation core: pure functions from polars frames to polars frames."""

from __future__ import annotations

from datetime import date

import polars as pl

from tracker.catalog import Catalog
from tracker.estimate.architecture import architecture_columns
from tracker.estimate.confidence import confidence_label
from tracker.estimate.hardware import hardware_columns, is_moe_expr
from tracker.estimate.lineage import accumulate, parent_index
from tracker.estimate.priors import (
    IMPLIED_UTILIZATION_MAX,
    IMPLIED_UTILIZATION_MIN,
    UTILIZATION_PRIOR_LM,
    UTILIZATION_PRIOR_OTHER,
)
from tracker.estimate.projection import rate_exprs
from tracker.estimate.reconcile import METHOD_ORDER, discrepancy_exprs, methods_list, names_where, reconcile
from tracker.estimate.reported import reported_flop_columns

METHODOLOGY_VERSION = "2026.11-1"

RUN_SCHEMA: dict[str, pl.DataType] = {
    "run_key": pl.String(),
    "system_key": pl.String(),
    "base_system_key": pl.String(),
    "stage": pl.String(),
    "status": pl.String(),
    "accelerator": pl.String(),
    "accelerator_count": pl.Float64(),
    "training_hours": pl.Float64(),
    "chip_hours": pl.Float64(),
    "start_date": pl.Date(),
    "end_date": pl.Date(),
    "precision": pl.String(),
    "utilization": pl.Float64(),
    "parameters": pl.Float64(),
    "active_parameters": pl.Float64(),
    "training_tokens": pl.Float64(),
    "reported_flop": pl.Float64(),
}
_PENDING = ("planned", "in_progress")


def _conform(runs: pl.DataFrame) -> pl.DataFrame:
    """Contract columns with their dtypes; a missing optional column reads as all-null."""
    return runs.with_columns(
        [pl.col(c).cast(t) if c in runs.columns else pl.lit(None, dtype=t).alias(c) for c, t in RUN_SCHEMA.items()]
    )


def _with_notes(frame: pl.DataFrame) -> pl.DataFrame:
    """``notes``: what the estimate assumed, joined by "; " (null when nothing).

    Every branch of a when/then is computed on every row, so numbers are formatted only on the
    few rows that need them (an implied utilization out of range) and the rest are literals or
    texts made once per (chip, format) pair."""
    hw = pl.col("hardware_flop_central").is_not_null()
    prior_lm, prior_other = (f"utilization not filed: prior {round(p, 2)}"
                             for p in (UTILIZATION_PRIOR_LM, UTILIZATION_PRIOR_OTHER))
    # Under a prior the utilization used is one of the two priors (hardware_columns).
    utilization_note = (
        pl.when(pl.col("utilization_used") == UTILIZATION_PRIOR_LM)
        .then(pl.lit(prior_lm))
        .otherwise(pl.lit(prior_other))
    )
    parts = [
        pl.when(hw | ~pl.col("_precision_assumed")).then(pl.col("_note_format")),
        pl.when(hw & pl.col("_utilization_prior")).then(utilization_note),
        pl.when(hw & pl.col("_utilization_prior") & is_moe_expr()).then(
            pl.lit("mixture-of-experts: utilization interval widened down to 0.11")
        ),
        pl.col("_note_catalog"),
        pl.col("_note_implied"),
        pl.when(pl.col("_attention_term")).then(pl.lit("attention term included (12*L*d*T, full square)")),
    ]
    u = pl.col("implied_utilization")
    odd = frame.select(((u < IMPLIED_UTILIZATION_MIN) | (u > IMPLIED_UTILIZATION_MAX)).fill_null(False).alias("o"))
    rows = odd.get_column("o").arg_true()
    implied = pl.repeat(None, frame.height, dtype=pl.String, eager=True).alias("_note_implied")
    if rows.len() > 0:
        texts = frame.select(implied_utilization=u).gather(rows).select(
            pl.format("implied utilization {} outside [0.05, 0.8]", u.round(3))
        )
        implied = implied.scatter(rows, texts.to_series())
    joined = frame.with_columns(implied).select(pl.concat_str(parts, separator="; ", ignore_nulls=True).alias("n"))
    notes = joined.select(pl.when(pl.col("n") != "").then(pl.col("n")).alias("notes")).to_series()
    return frame.with_columns(notes)


def estimate_runs(runs: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Per run: every method's estimate and interval, the reconciled figure, confidence,
    discrepancy between reported and independent figures, and the inputs actually used."""
    frame = _conform(runs)
    frame = hardware_columns(frame, catalog)
    frame = architecture_columns(frame)
    frame = frame.with_columns(reported_flop_columns())
    prefixes = tuple(f"{m}_flop" for m in METHOD_ORDER)
    frame = reconcile(frame, prefixes, "training_flop")
    frame = reconcile(frame, ("architecture_flop", "hardware_flop"), "_independent_flop", central_only=True)
    hw_capacity = pl.col("_chip_seconds") * pl.col("peak_flop_per_s")
    independent_of_hw = pl.coalesce(pl.col("reported_flop_central"), pl.col("architecture_flop_central"))
    frame = frame.with_columns(
        methods_list(prefixes, METHOD_ORDER).alias("methods"),
        confidence_label(
            pl.col("training_flop_central"), pl.col("training_flop_low"), pl.col("training_flop_high")
        ).alias("confidence"),
        *discrepancy_exprs(pl.col("reported_flop_central"), pl.col("_independent_flop_central")),
        pl.when(pl.col("hardware_flop_central").is_not_null())
        .then(pl.col("utilization_used"))
        .alias("utilization_used"),
        pl.when(hw_capacity > 0).then(independent_of_hw / hw_capacity).alias("implied_utilization"),
    )
    frame = _with_notes(frame)
    return frame.drop([c for c in frame.columns if c.startswith("_")])


_TRIPLE = ("central", "low", "high")


def _own_aggregates(run_estimates: pl.DataFrame) -> pl.DataFrame:
    done = pl.col("status").fill_null("completed") == "completed"
    pending = pl.col("status").is_in(_PENDING)
    updates = done & (pl.col("stage").fill_null("pretraining") != "synthetic_data")
    # Masking per run and then summing lets the group-by use its plain sum/count kernels; a
    # filter inside each aggregation is several times slower on a million groups.
    masks = {"own_training": done, "own_param_update": updates, "_pending": pending}
    masked = run_estimates.select(
        "system_key",
        "base_system_key",
        "start_date",
        "end_date",
        "discrepancy",
        *[
            pl.when(mask).then(pl.col(f"training_flop_{s}")).alias(f"{name}_flop_{s}")
            for name, mask in masks.items()
            for s in _TRIPLE
        ],
        pl.when(done).then(pl.col("training_flop_high")).alias("_done_high"),
        pl.when(pending).then(pl.col("start_date")).alias("_pending_start"),
        pl.when(pending).then(pl.col("end_date")).alias("_pending_end"),
        pl.when(done).then(pl.col("end_date")).alias("last_completed_end_date"),
        *[(pl.col(f"{m}_flop_central").is_not_null() & done).alias(f"_has_{m}") for m in METHOD_ORDER],
    )
    sums = [f"{name}_flop_{s}" for name in masks for s in _TRIPLE]
    # A run's low and high are null exactly when its central is (reconcile): one count per class.
    # Groups in order of first appearance: the aggregations then walk the runs in order (~2x
    # faster on a million systems), and runs listed in system order need no join afterwards.
    grouped = masked.group_by("system_key", maintain_order=True).agg(
        *[pl.col(c).sum() for c in sums],
        *[pl.col(f"{name}_flop_central").count().alias(f"_n_{name}") for name in masks],
        pl.col("own_training_flop_central").max().alias("largest_run_flop_central"),
        pl.col("_done_high").get(pl.col("own_training_flop_central").arg_max()).alias("largest_run_flop_high"),
        pl.col("_pending_start").min(),
        pl.col("_pending_end").max(),
        pl.col("last_completed_end_date").max(),
        pl.col("discrepancy").fill_null(False).any().alias("has_discrepancy"),
        pl.col("base_system_key").drop_nulls().first().alias("_run_base"),
        *[pl.col(f"_has_{m}").any() for m in METHOD_ORDER],
    )
    # No run in the class: unknown (null), not zero.
    return grouped.with_columns(
        pl.when(pl.col(f"_n_{name}") > 0).then(pl.col(f"{name}_flop_{s}")).alias(
            f"{name}_flop_{s}".replace("_pending_flop_", "_pending_"))
        for name in masks
        for s in _TRIPLE
    ).drop([f"_n_{name}" for name in masks] + [f"_pending_flop_{s}" for s in _TRIPLE])


def estimate_systems(run_estimates: pl.DataFrame, systems: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """One row per system: own (modification) compute, cumulative compute over lineage,
    parameter-updating compute, projection of pending runs, methods, confidence.

    Interval sums are fully correlated (sum of lows, sum of highs): conservative, and right when
    one assumption (e.g. a utilization prior) drives every stage. A system with no completed
    compute and no base with compute has null (unknown) training compute, not 0; an ancestor
    outside `systems` or without estimates contributes nothing (the cumulative figure is then a
    lower bound, and lineage_complete is false: such a system must not be classified `below` a
    threshold, since the missing compute is unbounded).

    Rows come in the order of `systems` (first occurrence of a key), then the systems that only
    appear in `run_estimates`."""
    own = _own_aggregates(run_estimates)
    # One row per system: duplicates are dropped on the narrow listing, not the joined frame.
    listed = systems.select(pl.col("system_key").cast(pl.String), pl.col("base_system_key").cast(pl.String))
    if listed.get_column("system_key").n_unique() != listed.height:  # counting is cheaper than deduplicating
        listed = listed.unique("system_key", keep="first", maintain_order=True)
    # Rows stay in the order of `systems` (a caller can then line its frame up without a join);
    # systems known only from their runs follow. Every row of `own` has a non-null
    # has_discrepancy, so counting them tells whether any run's system is unlisted.
    if own.height == listed.height and own.get_column("system_key").equals(listed.get_column("system_key")):
        nodes = pl.concat([listed, own.drop("system_key")], how="horizontal")
    else:
        nodes = listed.join(own, on="system_key", how="left", maintain_order="left")
        if nodes.get_column("has_discrepancy").count() < own.height:
            nodes = pl.concat([nodes, own.join(listed, on="system_key", how="anti")], how="diagonal_relaxed")
    nodes = (
        nodes.with_columns(pl.coalesce("base_system_key", "_run_base").alias("base_system_key"))
        .with_columns(
            [
                pl.sum_horizontal(
                    pl.col(f"own_training_flop_{s}").fill_null(0.0), pl.col(f"_pending_{s}").fill_null(0.0)
                ).alias(f"_all_{s}")
                for s in _TRIPLE
            ]
        )
        .with_columns(
            [
                pl.when(pl.col(f"own_training_flop_{s}").is_null() & pl.col(f"_pending_{s}").is_null())
                .then(None)
                .otherwise(pl.col(f"_all_{s}"))
                .alias(f"_all_{s}")
                for s in _TRIPLE
            ]
        )
    )
    parent = parent_index(nodes)
    # A gap: no compute of its own, or a base that is not a known system (no parent row).
    nodes = nodes.with_columns(
        (
            pl.col("own_training_flop_central").is_null()
            | (pl.col("base_system_key").is_not_null() & parent.is_null())
        ).alias("_gap")
    )
    sums = [
        *[f"own_training_flop_{s}" for s in _TRIPLE],
        *[f"own_param_update_flop_{s}" for s in _TRIPLE],
        *[f"_all_{s}" for s in _TRIPLE],
    ]
    cum = accumulate(nodes, sums, [*[f"_has_{m}" for m in METHOD_ORDER], "_gap"], parent)
    # accumulate() returns its rows in the order of `nodes`: no join needed.
    out = pl.concat([nodes, cum.drop("system_key")], how="horizontal").with_columns(
        *[pl.col(f"cum_own_training_flop_{s}").alias(f"training_flop_{s}") for s in _TRIPLE],
        *[pl.col(f"cum_own_param_update_flop_{s}").alias(f"param_update_flop_{s}") for s in _TRIPLE],
        *[
            pl.coalesce(pl.col(f"cum__all_{s}"), pl.col(f"cum_own_training_flop_{s}")).alias(
                f"projected_training_flop_{s}"
            )
            for s in _TRIPLE
        ],
        *rate_exprs(pl.col("_pending_central"), pl.col("_pending_start"), pl.col("_pending_end"), as_of),
        names_where([(pl.col(f"cum__has_{m}"), m) for m in METHOD_ORDER]).alias("methods"),
        pl.col("has_discrepancy").fill_null(False),
        (~pl.col("cum__gap")).alias("lineage_complete"),
    )
    out = out.with_columns(
        pl.col("training_flop_central").gather(pl.col("base_row")).alias("base_training_flop_central"),
        confidence_label(
            pl.col("training_flop_central"), pl.col("training_flop_low"), pl.col("training_flop_high")
        ).alias("confidence")
    )
    columns = [
        "system_key",
        "base_system_key",
        *[f"own_training_flop_{s}" for s in _TRIPLE],
        *[f"training_flop_{s}" for s in _TRIPLE],
        *[f"param_update_flop_{s}" for s in _TRIPLE],
        "largest_run_flop_central",
        "largest_run_flop_high",
        "base_training_flop_central",
        *[f"projected_training_flop_{s}" for s in _TRIPLE],
        "projection_start_date",
        "projection_end_date",
        "projected_flop_per_day",
        "methods",
        "confidence",
        "has_discrepancy",
        "last_completed_end_date",
        "lineage_depth",
        "lineage_complete",
    ]
    return out.select(columns)
