"""Usage rows are stored aggregated per system, version, period and accelerator.

Providers may send many rows per period (regions, hours, shards: the optional ``segment``
column); usage is additive, so they are summed here. A 10-million-row file thus becomes at most
a few thousand stored rows, and a later filing for the same system and period supersedes them.

The aggregate is written once, in parts (partial sums per group of rows, then finished): every
part is a count, a sum or (``first_row``) a minimum, so the fast pass (``screen.py``) aggregates
chunks of rows apart and combines them, and :func:`aggregate_usage` is the same parts over a whole
table.
"""

from __future__ import annotations

import polars as pl

from tracker.filing.validate import ROW

USAGE_KEY = ("system", "version", "period_start", "period_end", "accelerator")
_SUMMED = ("input_tokens", "output_tokens", "requests", "accelerator_hours")
# (value, weight): mean context per request, fleet utilization per accelerator-hour.
_WEIGHTED = (("mean_context_tokens", "requests"), ("utilization", "accelerator_hours"))
_VALUES = tuple(value for value, _ in _WEIGHTED)


def aggregate_usage(typed: pl.LazyFrame) -> pl.LazyFrame:
    """One row per key; ``rows`` counts the file rows merged, ``first_row`` points back to the file."""
    parts = typed.group_by(list(USAGE_KEY)).agg(partial_usage({n: pl.col(n) for n in (ROW, *_SUMMED, *_VALUES)}))
    return parts.select(finish_usage()).sort("first_row")


# --- the aggregate in parts: sums and counts, combinable across chunks of rows ---------------------

def partial_usage(value: dict[str, pl.Expr]) -> list[pl.Expr]:
    """Per group of rows: what :func:`finish_usage` needs, from the rows' values ``value[name]``.

    ``{n}__n`` counts the values present; ``{v}__w`` and ``{v}__ws`` are the weighted sum and the
    weight sum over rows with both the value and its weight (``weight + value * 0`` is the weight
    where the value is present, null otherwise, without a filter per group).
    """
    exprs = [pl.len().alias("rows"), value[ROW].min().alias("first_row")]
    for name in (*_SUMMED, *_VALUES):
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
