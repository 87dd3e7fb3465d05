"""Hardware method: chips x hours x 3600 x dense peak(format) x utilization (methodology §3).

C = chip_hours x 3600 x peak_dense(format) x utilization, with chip_hours the filed total or
accelerator_count x training_hours. The peak comes from the catalog after the documented format
fallback; the utilization is the filed MFU or the Epoch prior.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from tracker.catalog import FALLBACK_ORDER, PEAK_COLUMNS, PRECISIONS, Catalog, fallback_chain
from tracker.estimate.intervals import bounds, log_factor, quadrature
from tracker.estimate.priors import (
    DEFAULT_PRECISION,
    HARDWARE_INPUT_FACTOR,
    PRECISION_UNKNOWN_FACTOR,
    SECONDS_PER_HOUR,
    UTILIZATION_FILED_FACTOR,
    UTILIZATION_PRIOR_HIGH,
    UTILIZATION_PRIOR_LM,
    UTILIZATION_PRIOR_LOW,
    UTILIZATION_PRIOR_LOW_MOE,
    UTILIZATION_PRIOR_OTHER,
)


def _optional(frame: pl.DataFrame, name: str, dtype: pl.DataType) -> pl.Expr:
    return pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype)


def catalog_peak_exprs(accelerator: pl.Expr, catalog: Catalog) -> dict[str, pl.Expr]:
    """Per precision, the catalog's dense peak for each row's (canonical) accelerator."""
    names = catalog.frame.get_column("accelerator").to_list()
    return {
        p: accelerator.replace_strict(
            names,
            catalog.frame.get_column(PEAK_COLUMNS[p]).to_list(),
            default=None,
            return_dtype=pl.Float64,
        )
        for p in PRECISIONS
    }


def with_peak_columns(
    frame: pl.DataFrame, catalog: Catalog, accelerator: str = "accelerator"
) -> tuple[pl.DataFrame, dict[str, pl.Expr]]:
    """Materialises the catalog peaks once per row (_peak_<precision>) so that the fallback
    expressions below reference columns instead of re-running the lookup in every branch."""
    exprs = catalog_peak_exprs(pl.col(accelerator), catalog)
    out = frame.with_columns([e.alias(f"_peak_{p}") for p, e in exprs.items()])
    return out, {p: pl.col(f"_peak_{p}") for p in PRECISIONS}


def peak_with_fallback(peaks: Mapping[str, pl.Expr], requested: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(peak_flop_per_s, precision_used) after the catalog's fallback chain, row by row."""
    peak = pl.lit(None, dtype=pl.Float64)
    used = pl.lit(None, dtype=pl.String)
    for p in PRECISIONS:
        chain = fallback_chain(p)
        candidates = [peaks[q] for q in chain]
        labels = [pl.when(peaks[q].is_not_null()).then(pl.lit(q)) for q in chain]
        peak = pl.when(requested == p).then(pl.coalesce(candidates)).otherwise(peak)
        used = pl.when(requested == p).then(pl.coalesce(labels)).otherwise(used)
    return peak, used


def unknown_precision_peak(peaks: Mapping[str, pl.Expr]) -> tuple[pl.Expr, pl.Expr, pl.Expr, pl.Expr]:
    """(peak, precision used, next slower peak, fastest peak) when no precision is filed.

    The fallback order BF16 -> TF32 -> FP16 -> FP32 (methodology §3) picks the peak. The format
    is a guess, so the interval spans the next format down that order (a V100 guessed at its FP16
    tensor peak may have run FP32, 8x slower) and the chip's fastest format (FP8 on an H100)."""
    order = [(p, peaks[p]) for p in FALLBACK_ORDER]
    peak = pl.coalesce([v for _, v in order])
    used = pl.coalesce([pl.when(v.is_not_null()).then(pl.lit(p)) for p, v in order])
    slower = pl.lit(None, dtype=pl.Float64)
    for i, (p, _) in enumerate(order[:-1]):
        slower = pl.when(used == p).then(pl.coalesce([v for _, v in order[i + 1 :]])).otherwise(slower)
    fastest = pl.max_horizontal(peaks["bf16"], peaks["tf32"], peaks["fp16"], peaks["fp8"], peaks["fp32"])
    return peak, used, slower, fastest


def is_moe_expr() -> pl.Expr:
    """Mixture-of-experts when fewer parameters are active per token than exist."""
    return (pl.col("active_parameters") < pl.col("parameters")).fill_null(False)


def default_peak_table(frame: pl.DataFrame, catalog: Catalog, accelerator: str = "accelerator") -> pl.DataFrame:
    """``peak_flop_per_s`` at the default format (after the fallback chain) per distinct accelerator,
    to be joined on ``accelerator``: far fewer chips than rows."""
    chips = frame.select(pl.col(accelerator).alias("accelerator")).unique()
    chips, peaks = with_peak_columns(chips, catalog)
    peak, _used = peak_with_fallback(peaks, pl.lit(DEFAULT_PRECISION))
    return chips.select(pl.col("accelerator").alias(accelerator), peak.alias("peak_flop_per_s"))


def _peak_table(frame: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Peak, format used and the bounds' formats for each distinct (accelerator, filed precision).

    A registry has a few hundred such pairs against millions of runs: the fallback chains are
    evaluated on the pairs and joined back, not re-run on every row."""
    pairs = frame.select("accelerator", "precision").unique()
    filed = pl.col("precision").str.to_lowercase()
    requested = filed.fill_null(DEFAULT_PRECISION)
    pairs, peaks = with_peak_columns(pairs, catalog)
    filed_peak, filed_used = peak_with_fallback(peaks, requested)
    unknown_peak, unknown_used, slower, fastest = unknown_precision_peak(peaks)
    return pairs.select(
        "accelerator",
        "precision",
        pl.when(filed.is_null()).then(unknown_peak).otherwise(filed_peak).alias("peak_flop_per_s"),
        pl.when(filed.is_null()).then(unknown_used).otherwise(filed_used).alias("precision_used"),
        requested.alias("_precision_requested"),
        fastest.alias("_fastest_peak"),
        slower.alias("_slower_peak"),
    ).with_columns(
        pl.col("precision").is_null().alias("_precision_assumed"),
        (pl.col("precision_used") != pl.col("_precision_requested")).fill_null(False).alias("_precision_fallback"),
    ).with_columns(
        # The notes that depend on the pair alone are written here, once per pair.
        pl.when(pl.col("_precision_assumed"))
        .then(pl.format("precision not filed: {} by the order bf16->tf32->fp16->fp32", pl.col("precision_used")))
        .when(pl.col("_precision_fallback") & pl.col("precision_used").is_not_null())
        .then(pl.format("precision fallback {}->{}", pl.col("_precision_requested"), pl.col("precision_used")))
        .alias("_note_format"),
        pl.when(pl.col("accelerator").is_not_null() & pl.col("peak_flop_per_s").is_null())
        .then(pl.format("no catalog peak for accelerator '{}'", pl.col("accelerator")))
        .alias("_note_catalog"),
    )


def hardware_columns(frame: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """Adds peak_flop_per_s, precision_used, utilization_used, hardware_flop_{central,low,high}
    and the internal columns _chip_seconds, _precision_fallback, _precision_assumed,
    _utilization_prior."""
    chip_hours = pl.coalesce(
        pl.when(pl.col("chip_hours") > 0).then(pl.col("chip_hours")),
        pl.when((pl.col("accelerator_count") > 0) & (pl.col("training_hours") > 0)).then(
            pl.col("accelerator_count") * pl.col("training_hours")
        ),
    )
    # Joined on the key columns alone and set beside the frame: a join would copy every column.
    keys = ["accelerator", "precision"]
    peaks = frame.select(keys).join(_peak_table(frame, catalog), on=keys, how="left", nulls_equal=True,
                                    maintain_order="left")
    frame = pl.concat([frame, peaks.drop(keys)], how="horizontal")
    is_lm = _optional(frame, "is_language_model", pl.Boolean()).fill_null(True)
    prior = pl.when(is_lm).then(UTILIZATION_PRIOR_LM).otherwise(UTILIZATION_PRIOR_OTHER)
    filed_u = pl.when((pl.col("utilization") > 0) & (pl.col("utilization") <= 1)).then(pl.col("utilization"))
    out = frame.with_columns(
        (chip_hours * SECONDS_PER_HOUR).alias("_chip_seconds"),
        pl.coalesce(filed_u, prior).alias("utilization_used"),
        filed_u.is_null().alias("_utilization_prior"),
    )
    u = pl.col("utilization_used")
    prior_low = pl.when(is_moe_expr()).then(UTILIZATION_PRIOR_LOW_MOE).otherwise(UTILIZATION_PRIOR_LOW)
    util_low = (
        pl.when(pl.col("_utilization_prior"))
        .then((u / prior_low).log())
        .otherwise(log_factor(UTILIZATION_FILED_FACTOR))
    )
    util_high = (
        pl.when(pl.col("_utilization_prior"))
        .then((pl.lit(UTILIZATION_PRIOR_HIGH) / u).log().clip(lower_bound=0.0))
        .otherwise(log_factor(UTILIZATION_FILED_FACTOR))
    )
    unsure = pl.col("_precision_assumed") | pl.col("_precision_fallback")
    # Unknown format: at least x0.5-2 (methodology §3); wider where the chip's next format down
    # the fallback order, or its fastest format, is further away.
    downside = (pl.col("peak_flop_per_s") / pl.col("_slower_peak")).log().fill_null(0.0)
    upside = (pl.col("_fastest_peak") / pl.col("peak_flop_per_s")).log()
    precision_low = (
        pl.when(pl.col("_precision_assumed"))
        .then(pl.max_horizontal(downside, log_factor(PRECISION_UNKNOWN_FACTOR)))
        .when(unsure)
        .then(log_factor(PRECISION_UNKNOWN_FACTOR))
        .otherwise(0.0)
    )
    precision_high = (
        pl.when(pl.col("_precision_assumed"))
        .then(pl.max_horizontal(upside, log_factor(PRECISION_UNKNOWN_FACTOR)))
        .otherwise(precision_low)
    )
    inputs = log_factor(HARDWARE_INPUT_FACTOR)
    central = pl.col("_chip_seconds") * pl.col("peak_flop_per_s") * u
    return out.with_columns(
        bounds(
            central,
            quadrature(inputs, util_low.clip(lower_bound=0.0), precision_low),
            quadrature(inputs, util_high, precision_high),
            "hardware_flop",
        )
    )
