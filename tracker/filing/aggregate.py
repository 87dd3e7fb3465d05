"""Usage rows are stored aggregated per system, version, period and accelerator.

Providers may send many rows per period (regions, hours, shards: the optional ``segment``
column); usage is additive, so they are summed here. A 10-million-row file thus becomes at most
a few thousand stored rows, and a later filing for the same system and period supersedes them.
"""

from __future__ import annotations

import polars as pl

from tracker.filing.validate import ROW

USAGE_KEY = ("system", "version", "period_start", "period_end", "accelerator")
_SUMMED = ("input_tokens", "output_tokens", "requests", "accelerator_hours")


def _sum_or_null(name: str) -> pl.Expr:
    # A figure nobody reported stays unknown (null), not zero.
    return pl.when(pl.col(name).count() > 0).then(pl.col(name).sum()).alias(name)


def _weighted_mean(value: str, weight: str) -> pl.Expr:
    both = pl.col(value).is_not_null() & pl.col(weight).is_not_null()
    weight_sum = pl.col(weight).filter(both).sum()
    weighted = (pl.col(value) * pl.col(weight)).filter(both).sum() / weight_sum
    return pl.when(weight_sum > 0).then(weighted).otherwise(pl.col(value).mean()).alias(value)


def aggregate_usage(typed: pl.LazyFrame) -> pl.LazyFrame:
    """One row per key; ``rows`` counts the file rows merged, ``first_row`` points back to the file."""
    return (
        typed.group_by(list(USAGE_KEY))
        .agg(
            *[_sum_or_null(n) for n in _SUMMED],
            # Mean context per request, and fleet utilization per accelerator-hour.
            _weighted_mean("mean_context_tokens", "requests"),
            _weighted_mean("utilization", "accelerator_hours"),
            pl.len().alias("rows"),
            pl.col(ROW).min().alias("first_row"),
        )
        .sort("first_row")
    )
