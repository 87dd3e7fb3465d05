"""Tiers: a regime's ordered grades of the systems it covers (the highest tier met, by the compared
value's band and the domains the provider declares held)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from tracker.regimes.flag_schema import REASON_TYPE
from tracker.regimes.model import Regime, Tier
from tracker.regimes.status import subject_index


def tiers(
    result: pl.DataFrame, regimes: Sequence[Regime], declared: pl.DataFrame | None, system_keys: pl.Series
) -> pl.Series:
    """Each row's tier under its regime: the highest tier (last listed) whose band holds the
    compared value and whose domains include one the provider declares held. Computed on the
    rows of tiered regimes only and scattered into place (few regimes have tiers)."""
    tier = pl.repeat(None, result.height, dtype=pl.String, eager=True).alias("tier")
    tiered = [(rule, regime) for rule, regime in enumerate(regimes) if regime.tiers]
    rows = (
        result.select(pl.col("_rule").is_in([rule for rule, _ in tiered])).to_series().arg_true()
        if tiered else pl.Series([], dtype=pl.UInt32)
    )
    if rows.len() == 0:
        return tier.cast(REASON_TYPE)
    part = result.select("_subject", "_rule", "value_central").gather(rows)
    domains = sorted({key for _, regime in tiered for t in regime.tiers for key in t.domains})
    if declared is not None and domains:
        held = (
            declared.filter(pl.col("held") & pl.col("condition").is_in(domains))
            .join(subject_index(system_keys), on="system_key")
            .group_by("_subject")
            .agg(pl.col("condition").alias("_domains"))
        )
        part = part.join(held, on="_subject", how="left", maintain_order="left")
    else:
        part = part.with_columns(_domains=pl.lit(None, pl.List(pl.String)))
    chain: pl.Expr | None = None
    for rule, regime in tiered:
        for grade in reversed(regime.tiers):
            met = (pl.col("_rule") == rule) & _tier_met(grade, regime.effective_threshold)
            chain = (pl.when(met) if chain is None else chain.when(met)).then(pl.lit(grade.id))  # type: ignore[attr-defined]
    assert chain is not None
    graded = part.select(chain.otherwise(pl.lit(None, pl.String)).alias("tier")).to_series()  # type: ignore[attr-defined]
    return tier.scatter(rows, graded).cast(REASON_TYPE)


def _tier_met(tier: Tier, threshold: float | None) -> pl.Expr:
    value = pl.col("value_central")
    met = pl.lit(True)
    bounds = (
        (tier.min_flop, False), (tier.max_flop, True),
        (None if tier.min_threshold_multiple is None or threshold is None
         else tier.min_threshold_multiple * threshold, False),
        (None if tier.max_threshold_multiple is None or threshold is None
         else tier.max_threshold_multiple * threshold, True),
    )
    for bound, upper in bounds:
        if bound is not None:
            met = met & ((value < bound) if upper else (value >= bound))
    if threshold is None and (tier.min_threshold_multiple is not None or tier.max_threshold_multiple is not None):
        met = pl.lit(False)  # a band relative to a threshold nobody has set cannot be met
    if tier.domains:
        met = met & (pl.col("_domains").list.set_intersection(list(tier.domains)).list.len() > 0)
    return met.fill_null(False)

