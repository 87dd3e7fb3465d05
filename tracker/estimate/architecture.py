"""Architecture method (operation counting): 6 x N_active x D, plus the attention term
12 x L x d_model x T per token where layers, width and context are known (methodology §2)."""

from __future__ import annotations

import polars as pl

from tracker.estimate.hardware import is_moe_expr
from tracker.estimate.intervals import bounds, log_factor, quadrature
from tracker.estimate.priors import (
    ARCHITECTURE_FACTOR_HIGH,
    ARCHITECTURE_FACTOR_LOW,
    ARCHITECTURE_FACTOR_WITH_ATTENTION,
    ARCHITECTURE_MOE_FACTOR,
    ATTENTION_FLOP_COEFFICIENT_TRAINING,
    FLOP_PER_PARAM_TOKEN_TRAINING,
)


def _optional(frame: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Float64) if name in frame.columns else pl.lit(None, dtype=pl.Float64)


def attention_flop_per_token(frame: pl.DataFrame, coefficient: float) -> pl.Expr:
    """coefficient x layers x d_model x context_tokens, null unless all three are filed."""
    return coefficient * _optional(frame, "layers") * _optional(frame, "d_model") * _optional(frame, "context_tokens")


def architecture_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Adds architecture_flop_{central,low,high} and _attention_term (bool)."""
    n_active = pl.coalesce(
        pl.when(pl.col("active_parameters") > 0).then(pl.col("active_parameters")),
        pl.when(pl.col("parameters") > 0).then(pl.col("parameters")),
    )
    tokens = pl.when(pl.col("training_tokens") > 0).then(pl.col("training_tokens"))
    attention = attention_flop_per_token(frame, ATTENTION_FLOP_COEFFICIENT_TRAINING)
    per_token = FLOP_PER_PARAM_TOKEN_TRAINING * n_active + attention.fill_null(0.0)
    central = per_token * tokens
    has_attention = attention.is_not_null()
    moe = pl.when(is_moe_expr()).then(log_factor(ARCHITECTURE_MOE_FACTOR)).otherwise(0.0)
    low = (
        pl.when(has_attention)
        .then(log_factor(ARCHITECTURE_FACTOR_WITH_ATTENTION))
        .otherwise(log_factor(ARCHITECTURE_FACTOR_LOW))
    )
    high = (
        pl.when(has_attention)
        .then(log_factor(ARCHITECTURE_FACTOR_WITH_ATTENTION))
        .otherwise(log_factor(ARCHITECTURE_FACTOR_HIGH))
    )
    return frame.with_columns(has_attention.alias("_attention_term")).with_columns(
        bounds(central, quadrature(low, moe), quadrature(high, moe), "architecture_flop")
    )
