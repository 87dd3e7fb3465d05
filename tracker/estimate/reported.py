"""Reported method: the provider's own figure, with the EU's +/-30% tolerance (methodology §4, §6)."""

from __future__ import annotations

import polars as pl

from tracker.estimate.intervals import bounds, log_factor
from tracker.estimate.priors import REPORTED_FACTOR


def reported_flop_columns() -> list[pl.Expr]:
    """reported_flop_{central,low,high} from the filed `reported_flop` (null or <= 0 -> null)."""
    central = pl.when(pl.col("reported_flop") > 0).then(pl.col("reported_flop").cast(pl.Float64))
    f = log_factor(REPORTED_FACTOR)
    return bounds(central, f, f, "reported_flop")
