"""Usage rows are stored aggregated per system, version, period and accelerator.

Providers may send many rows per period (regions, hours, shards: the optional ``segment``
column); usage is additive, so they are summed here. A 10-million-row file thus becomes at most
a few thousand stored rows, and a later filing for the same system and period supersedes them.

The same aggregate also exists in decomposed form (partial sums per chunk of rows, merged, then
finished) for the one-pass screen of large files (``screen.py``): every part is a count, a sum or
(``first_row``) a minimum, so chunks of rows can be aggregated apart and combined.
"""

from __future__ import annotations

import polars as pl

from tracker.filing.validate import ROW

USAGE_KEY = ("system", "version", "period_start", "period_end", "accelerator")
_SUMMED = ("input_tokens", "output_tokens", "requests", "accelerator_hours")
# (value, weight): mean context per request, fleet utilization per accelerator-hour.
_WEIGHTED = (("mean_context_tokens", "requests"), ("utilization", "accelerator_hours"))


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
            *[_weighted_mean(value, weight) for value, weight in _WEIGHTED],
            pl.len().alias("rows"),
            pl.col(ROW).min().alias("first_row"),
        )
        .sort("first_row")
    )


# --- the same aggregate in parts ------------------------------------------------------------------

def partial_usage(value: dict[str, pl.Expr]) -> list[pl.Expr]:
    """Per group of rows: what :func:`finish_usage` needs, from the rows' values ``value[name]``.

    ``{n}__n`` counts the values present; ``{v}__w`` and ``{v}__ws`` are the weighted sum and the
    weight sum over rows with both the value and its weight (``weight + value * 0`` is the weight
    where the value is present, null otherwise, without a filter per group).
    """
    exprs = [pl.len().alias("rows"), value[ROW].min().alias("first_row")]
    for name in (*_SUMMED, *(v for v, _ in _WEIGHTED)):
        exprs += [value[name].sum().alias(f"{name}__sum"), value[name].count().alias(f"{name}__n")]
    for v, w in _WEIGHTED:
        exprs += [(value[v] * value[w]).sum().alias(f"{v}__w"), (value[w] + value[v] * 0).sum().alias(f"{v}__ws")]
    return exprs


def finish_usage() -> list[pl.Expr]:
    """Partial sums -> the columns :func:`aggregate_usage` returns (same rules, same order)."""
    summed = [pl.when(pl.col(f"{n}__n") > 0).then(pl.col(f"{n}__sum")).alias(n) for n in _SUMMED]
    means = [
        pl.when(pl.col(f"{v}__ws") > 0).then(pl.col(f"{v}__w") / pl.col(f"{v}__ws"))
        .otherwise(pl.when(pl.col(f"{v}__n") > 0).then(pl.col(f"{v}__sum") / pl.col(f"{v}__n"))).alias(v)
        for v, _ in _WEIGHTED
    ]
    return [*[pl.col(k) for k in USAGE_KEY], *summed, *means, pl.col("rows"), pl.col("first_row")]
