"""Projection of planned and in-progress runs: compute at the planned end, and the date a
system crosses a threshold at the current rate (issue 3 item 6)."""

from __future__ import annotations

from datetime import date

import polars as pl


def rate_exprs(pending_central: pl.Expr, start: pl.Expr, end: pl.Expr, as_of: date) -> list[pl.Expr]:
    """projection_start_date, projection_end_date and projected_flop_per_day.

    The rate spreads the pending runs' central compute evenly between the earliest start and the
    latest planned end; a pending run with no start date is taken to run from as_of."""
    start_date = pl.coalesce(start, pl.when(end.is_not_null()).then(pl.lit(as_of)))
    days = (end - start_date).dt.total_days().cast(pl.Float64)
    return [
        start_date.alias("projection_start_date"),
        end.alias("projection_end_date"),
        pl.when((days > 0) & (pending_central > 0)).then(pending_central / days).alias("projected_flop_per_day"),
    ]


def crossing_date_expr(threshold: float | pl.Expr) -> pl.Expr:
    """Date the projected compute crosses threshold at the current rate: null when completed
    compute already crosses it, when the projection never reaches it by its planned end, or when
    there are no dates. ``threshold`` may be a column, to project many thresholds in one pass."""
    done = pl.col("training_flop_central").fill_null(0.0)
    rate = pl.col("projected_flop_per_day")
    days = ((threshold - done) / rate).ceil().clip(0.0, 1e7)  # keeps the Int32 cast safe
    start_days = pl.col("projection_start_date").cast(pl.Int32)
    end_days = pl.col("projection_end_date").cast(pl.Int32)
    crossing = pl.min_horizontal(start_days + days.cast(pl.Int32), end_days)
    reaches = pl.col("projected_training_flop_central").fill_null(0.0) >= threshold
    return (
        pl.when((done < threshold) & reaches & (rate > 0) & start_days.is_not_null())
        .then(crossing)
        .cast(pl.Date)
        .alias("crossing_date")
    )


def crossing_date(system_estimates: pl.DataFrame, threshold: float) -> pl.Series:
    """crossing_date_expr evaluated on the output of estimate_systems (same row order)."""
    return system_estimates.select(crossing_date_expr(threshold)).get_column("crossing_date")
