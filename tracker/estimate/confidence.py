"""Confidence label from the width of the 90% interval (methodology §6).

Epoch's rule of thumb: Confident ~ a 90% interval within x1/3..x3 of the central value. We
label `confident` when both high/central and central/low are <= 3, `likely` when both are
<= 10 (our choice; Epoch's Likely width is not published: VERIFY), `speculative` otherwise.
"""

from __future__ import annotations

import polars as pl

from tracker.estimate.priors import CONFIDENT_MAX_FACTOR, LIKELY_MAX_FACTOR

CONFIDENCE_LABELS: tuple[str, ...] = ("confident", "likely", "speculative")


def confidence_label(central: pl.Expr, low: pl.Expr, high: pl.Expr) -> pl.Expr:
    """`confident` / `likely` / `speculative`; null when there is no estimate."""
    # A tiny tolerance so that exactly x3 (e.g. a rounded bound) is still confident.
    spread = pl.max_horizontal(high / central, central / low) / (1.0 + 1e-9)
    return (
        pl.when(central.is_null() | low.is_null() | high.is_null() | (low <= 0))
        .then(pl.lit(None, dtype=pl.String))
        .when(spread <= CONFIDENT_MAX_FACTOR)
        .then(pl.lit("confident"))
        .when(spread <= LIKELY_MAX_FACTOR)
        .then(pl.lit("likely"))
        .otherwise(pl.lit("speculative"))
    )
