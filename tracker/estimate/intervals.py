"""Log-space interval arithmetic shared by the estimators.

Each input's uncertainty is a multiplicative 90% factor; independent inputs combine in
quadrature in log space, which is what a product of log-normal inputs gives (the shape of
Epoch's Monte Carlo in methodology §6). Low and high sides are kept separately so that
one-sided priors (e.g. MoE utilization) stay asymmetric.
"""

from __future__ import annotations

import math

import polars as pl

IntoFactor = pl.Expr | float


def log_factor(factor: IntoFactor) -> pl.Expr:
    """ln(factor) as an expression (factor >= 1)."""
    if isinstance(factor, pl.Expr):
        return factor.log()
    return pl.lit(math.log(factor))


def quadrature(*log_factors: pl.Expr) -> pl.Expr:
    """sqrt(sum of squares) of log half-widths; null parts count as zero."""
    return pl.sum_horizontal([f.fill_null(0.0).pow(2) for f in log_factors]).sqrt()


def bounds(central: pl.Expr, log_low: pl.Expr, log_high: pl.Expr, prefix: str) -> list[pl.Expr]:
    """central, low, high columns named <prefix>_{central,low,high}."""
    return [
        central.alias(f"{prefix}_central"),
        (central * (-log_low).exp()).alias(f"{prefix}_low"),
        (central * log_high.exp()).alias(f"{prefix}_high"),
    ]


def sum_or_null(*exprs: pl.Expr) -> pl.Expr:
    """Sum treating null as 0, but null when every part is null (unknown stays unknown)."""
    total = pl.sum_horizontal([e.fill_null(0.0) for e in exprs])
    any_known = pl.any_horizontal([e.is_not_null() for e in exprs])
    return pl.when(any_known).then(total).otherwise(None)
