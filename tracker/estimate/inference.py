"""Inference compute from usage filings (methodology §8).

Two methods per period, reconciled like training estimates:
- `architecture` (operation counting): tokens x 2 x N_active, plus attention over the context when
  mean_context_tokens, layers and d_model are known (decode 4*L*d*S per output token, causal
  prefill 2*L*d*S per input token);
- `hardware` (fleet): accelerator_hours x 3600 x dense peak x utilization (prior 10%, 90% range
  5-30%; the serving format is not filed, so BF16 with the catalog fallback, widened x0.5-2).
Periods are inclusive date ranges; figures are prorated by days of overlap.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from tracker.catalog import Catalog
from tracker.estimate.hardware import default_peak_table
from tracker.estimate.intervals import bounds, log_factor, quadrature, sum_or_null
from tracker.estimate.priors import (
    ATTENTION_FLOP_COEFFICIENT_DECODE,
    ATTENTION_FLOP_COEFFICIENT_PREFILL,
    FLOP_PER_PARAM_TOKEN_INFERENCE,
    HARDWARE_INPUT_FACTOR,
    INFERENCE_TOKENS_FACTOR_HIGH,
    INFERENCE_TOKENS_FACTOR_LOW,
    INFERENCE_TOKENS_FACTOR_WITH_ATTENTION,
    INFERENCE_UTILIZATION_FILED_FACTOR,
    INFERENCE_UTILIZATION_HIGH,
    INFERENCE_UTILIZATION_LOW,
    INFERENCE_UTILIZATION_PRIOR,
    INFERENCE_WINDOW_DAYS,
    PRECISION_UNKNOWN_FACTOR,
    SECONDS_PER_HOUR,
)
from tracker.estimate.reconcile import methods_list, names_where, reconcile

_USAGE_SCHEMA: dict[str, pl.DataType] = {
    "system_key": pl.String(),
    "period_start": pl.Date(),
    "period_end": pl.Date(),
    "input_tokens": pl.Float64(),
    "output_tokens": pl.Float64(),
    "requests": pl.Float64(),
    "mean_context_tokens": pl.Float64(),
    "accelerator": pl.String(),
    "accelerator_hours": pl.Float64(),
    "utilization": pl.Float64(),
}
_TRIPLE = ("central", "low", "high")


def _conform(usage: pl.DataFrame, active_parameters: pl.DataFrame) -> pl.DataFrame:
    usage = usage.with_columns(
        [pl.col(c).cast(t) if c in usage.columns else pl.lit(None, dtype=t).alias(c) for c, t in _USAGE_SCHEMA.items()]
    )
    # Only the systems with usage matter: a registry has many more systems than it has users.
    used = usage.get_column("system_key").cast(pl.String).unique().implode()
    params = active_parameters.filter(pl.col("system_key").cast(pl.String).is_in(used)).select(
        pl.col("system_key").cast(pl.String),
        pl.col("active_parameters").cast(pl.Float64).alias("_n_active"),
        *[
            (pl.col(c).cast(pl.Float64) if c in active_parameters.columns else pl.lit(None, pl.Float64)).alias(f"_{c}")
            for c in ("layers", "d_model")
        ],
    ).unique("system_key", keep="first")
    return usage.with_row_index("_row").join(params, on="system_key", how="left", maintain_order="left")


def estimate_inference_periods(
    usage: pl.DataFrame, active_parameters: pl.DataFrame, catalog: Catalog, as_of: date
) -> pl.DataFrame:
    """One row per usage period: both methods, the reconciled inference_flop_{central,low,high},
    methods, the share of the period inside the 30 days ending as_of, and the running total."""
    frame = _conform(usage, active_parameters)
    in_tok = pl.when(pl.col("input_tokens") >= 0).then(pl.col("input_tokens"))
    out_tok = pl.when(pl.col("output_tokens") >= 0).then(pl.col("output_tokens"))
    tokens = sum_or_null(in_tok, out_tok)
    n = pl.when(pl.col("_n_active") > 0).then(pl.col("_n_active"))
    ld_s = pl.col("_layers") * pl.col("_d_model") * pl.col("mean_context_tokens")
    attention = ATTENTION_FLOP_COEFFICIENT_DECODE * ld_s * out_tok.fill_null(
        0.0
    ) + ATTENTION_FLOP_COEFFICIENT_PREFILL * ld_s * in_tok.fill_null(0.0)
    has_attention = attention.is_not_null()
    tokens_central = pl.when(tokens > 0).then(FLOP_PER_PARAM_TOKEN_INFERENCE * n * tokens + attention.fill_null(0.0))
    tok_low = (
        pl.when(has_attention)
        .then(log_factor(INFERENCE_TOKENS_FACTOR_WITH_ATTENTION))
        .otherwise(log_factor(INFERENCE_TOKENS_FACTOR_LOW))
    )
    tok_high = (
        pl.when(has_attention)
        .then(log_factor(INFERENCE_TOKENS_FACTOR_WITH_ATTENTION))
        .otherwise(log_factor(INFERENCE_TOKENS_FACTOR_HIGH))
    )
    frame = frame.join(
        default_peak_table(frame, catalog).rename({"peak_flop_per_s": "_peak"}),
        on="accelerator", how="left", nulls_equal=True, maintain_order="left",
    )
    peak = pl.col("_peak")
    filed_u = pl.when((pl.col("utilization") > 0) & (pl.col("utilization") <= 1)).then(pl.col("utilization"))
    u = pl.coalesce(filed_u, pl.lit(INFERENCE_UTILIZATION_PRIOR))
    fleet_central = pl.when(pl.col("accelerator_hours") > 0).then(
        pl.col("accelerator_hours") * SECONDS_PER_HOUR * peak * u
    )
    u_low = pl.when(filed_u.is_null()).then(log_factor(INFERENCE_UTILIZATION_PRIOR / INFERENCE_UTILIZATION_LOW))
    u_high = pl.when(filed_u.is_null()).then(log_factor(INFERENCE_UTILIZATION_HIGH / INFERENCE_UTILIZATION_PRIOR))
    filed = log_factor(INFERENCE_UTILIZATION_FILED_FACTOR)
    fixed = [log_factor(HARDWARE_INPUT_FACTOR), log_factor(PRECISION_UNKNOWN_FACTOR)]
    frame = frame.with_columns(
        *bounds(tokens_central, tok_low, tok_high, "tokens_flop"),
        *bounds(
            fleet_central,
            quadrature(*fixed, u_low.fill_null(filed)),
            quadrature(*fixed, u_high.fill_null(filed)),
            "fleet_flop",
        ),
    )
    frame = reconcile(frame, ("tokens_flop", "fleet_flop"), "inference_flop").with_columns(
        methods_list(("tokens_flop", "fleet_flop"), ("architecture", "hardware")).alias("methods"),
    )
    window_start = as_of - timedelta(days=INFERENCE_WINDOW_DAYS - 1)
    start, end = pl.col("period_start"), pl.col("period_end")
    days = ((end - start).dt.total_days() + 1).cast(pl.Float64)
    clipped_end = pl.min_horizontal(end, pl.lit(as_of))
    in_window = (clipped_end - pl.max_horizontal(start, pl.lit(window_start))).dt.total_days() + 1
    to_date = (clipped_end - start).dt.total_days() + 1
    frame = frame.with_columns(
        pl.when(days > 0).then(in_window.clip(lower_bound=0) / days).alias("share_in_30d"),
        pl.when(days > 0).then(to_date.clip(lower_bound=0) / days).alias("share_to_date"),
    )
    return (
        frame.sort("system_key", "period_start", "_row")
        .with_columns(
            pl.col("inference_flop_central")
            .fill_null(0.0)
            .cum_sum()
            # Sorted by system: each system is one run of equal keys, numbered without hashing.
            .over(pl.col("system_key").rle_id())
            .alias("cumulative_inference_flop_central")
        )
        .drop([c for c in frame.columns if c.startswith("_")])
    )


def estimate_inference(
    usage: pl.DataFrame, active_parameters: pl.DataFrame, catalog: Catalog, as_of: date
) -> pl.DataFrame:
    """One row per system with usage: inference_flop_30d_* (periods overlapping the 30 days ending
    as_of, prorated by overlap; null when none overlaps), inference_flop_total_* (everything up to
    as_of) and methods. Interval sums are fully correlated (sum of lows and of highs)."""
    return summarise_inference(estimate_inference_periods(usage, active_parameters, catalog, as_of))


def summarise_inference(periods: pl.DataFrame) -> pl.DataFrame:
    """estimate_inference from already estimated periods (a caller that keeps both computes once)."""

    def prorated(share: str, s: str, name: str) -> pl.Expr:
        part = (pl.col(f"inference_flop_{s}") * pl.col(share)).filter(pl.col(share) > 0)
        return pl.when(part.count() > 0).then(part.sum()).alias(name)

    return (
        periods.group_by("system_key")
        .agg(
            *[prorated("share_in_30d", s, f"inference_flop_30d_{s}") for s in _TRIPLE],
            *[prorated("share_to_date", s, f"inference_flop_total_{s}") for s in _TRIPLE],
            pl.col("methods").explode().unique().alias("_m"),
        )
        .with_columns(
            names_where([(pl.col("_m").list.contains(m), m) for m in ("architecture", "hardware")]).alias("methods")
        )
        .drop("_m")
        .sort("system_key")
    )
