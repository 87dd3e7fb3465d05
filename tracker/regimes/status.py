"""A flag's status: the (subject, regime) rows a metric gives, the interval status of each against
the threshold (and of projected compute), and the final status and reason once the regime's
declarable conditions are applied (see ``tracker.regimes.evaluate`` for the rules)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from tracker.regimes.flag_schema import (
    BOUNDS,
    FLAGGED_STATUSES,
    STATUS_TYPE,
    STATUSES,
)
from tracker.regimes.model import Regime

# metric -> (central, low, high) source columns; None = that bound is not estimated.
_SYSTEM_VALUE_COLUMNS: dict[str, tuple[str, str | None, str]] = {
    "training_flop_cumulative": (
        "training_flop_central",
        "training_flop_low",
        "training_flop_high",
    ),
    "relative_to_largest_run": ("training_flop_central", "training_flop_low", "training_flop_high"),
    "training_flop_param_updates": (
        "param_update_flop_central",
        "param_update_flop_low",
        "param_update_flop_high",
    ),
    # One run's compute: the estimator gives the system's largest run without a low bound.
    "training_run_ops": ("largest_run_flop_central", None, "largest_run_flop_high"),
    "modification_flop": (
        "own_training_flop_central",
        "own_training_flop_low",
        "own_training_flop_high",
    ),
    "modification_flop_ratio": (
        "own_training_flop_central",
        "own_training_flop_low",
        "own_training_flop_high",
    ),
    "inference_flop_30d": (
        "inference_flop_30d_central",
        "inference_flop_30d_low",
        "inference_flop_30d_high",
    ),
}
# Metrics where planned and in-progress compute can be projected (cumulative training compute).
_PROJECTABLE = frozenset({"training_flop_cumulative", "relative_to_largest_run"})


def system_rows(systems: pl.LazyFrame, metric: str, rules: pl.DataFrame) -> pl.LazyFrame:
    """Cross join systems x the regimes of one metric, then classify against each threshold."""
    columns = _SYSTEM_VALUE_COLUMNS.get(metric)
    projectable = metric in _PROJECTABLE
    selected = [
        "_subject",
        pl.col("last_completed_end_date").alias("crossing_hint"),
        pl.col("is_downstream_modifier").fill_null(False).alias("_modifier"),
        pl.col("base_training_flop_central").alias("_base_flop"),
    ]
    if columns is not None:
        selected += [
            (pl.col(name) if name else pl.lit(None, pl.Float64)).alias(f"value_{bound}")
            for name, bound in zip(columns, BOUNDS, strict=True)
        ]
    if projectable:
        selected += [
            pl.col(f"projected_training_flop_{bound}").alias(f"projected_{bound}")
            for bound in BOUNDS
        ]
    if metric == "relative_to_largest_run":
        # The largest known run: the regime's reference_flop, else the frame's largest system.
        selected.append(pl.col("training_flop_central").max().alias("_largest_flop"))
    rule_columns = ["_rule", "threshold", "comparator", "applies_to", "reference_flop"]
    rows = (
        systems.select(selected)
        .join(rules.select(rule_columns).lazy(), how="cross")
        .filter(_applies())
    )
    if columns is None:
        raise ValueError(f"metric {metric!r} is not held by the tracker; its regimes get no flag rows")
    if metric == "modification_flop_ratio":
        rows = rows.with_columns(pl.col(f"value_{b}") / pl.col("_base_flop") for b in BOUNDS)
    elif metric == "relative_to_largest_run":
        reference = pl.coalesce(pl.col("reference_flop"), pl.col("_largest_flop"))
        rows = rows.with_columns(
            pl.col(f"{kind}_{b}") / reference for kind in ("value", "projected") for b in BOUNDS
        )
    return _classify(rows, projectable).select(CANDIDATE_COLUMNS)


def cluster_rows(clusters: pl.LazyFrame, rules: pl.DataFrame) -> pl.LazyFrame:
    """Clusters have a point value (theoretical peak): the interval is the value itself."""
    peak = pl.col("peak_ops_per_s_max")
    rows = clusters.select(
        "_subject",
        *(peak.alias(f"value_{bound}") for bound in BOUNDS),
        pl.lit(None, pl.Date).alias("crossing_hint"),
    ).join(rules.select("_rule", "threshold", "comparator").lazy(), how="cross")
    return _classify(rows, projectable=False).select(CANDIDATE_COLUMNS)


def _applies() -> pl.Expr:
    """Whether a regime's ``applies_to`` covers the system (downstream modifiers, base known)."""
    modifier = pl.col("_modifier")
    base_known = pl.col("_base_flop").is_not_null()
    applies_to = pl.col("applies_to")
    return (
        pl.when(applies_to == "all")
        .then(True)
        .when(applies_to == "original_providers")
        .then(~modifier)
        .when(applies_to == "downstream_modifiers")
        .then(modifier)
        .when(applies_to == "downstream_modifiers_base_known")
        .then(modifier & base_known)
        .when(applies_to == "downstream_modifiers_base_unknown")
        .then(modifier & ~base_known)
        .otherwise(False)
    )


def _past(value: pl.Expr) -> pl.Expr:
    """Value past the threshold under the comparator: at exactly the threshold gt is not past."""
    threshold = pl.col("threshold")
    return (
        pl.when(pl.col("comparator") == "gte").then(value >= threshold).otherwise(value > threshold)
    )


def _interval_status(kind: str) -> pl.Expr:
    central, low, high = (pl.col(f"{kind}_{bound}") for bound in BOUNDS)
    return (
        pl.when(central.is_null())
        .then(pl.lit(None, STATUS_TYPE))
        .when(_past(low).fill_null(False))  # no low bound: cannot be sure it is above
        .then(pl.lit("above", STATUS_TYPE))
        .when(_past(central))
        .then(pl.lit("likely_above", STATUS_TYPE))
        .when(_past(high).fill_null(True))  # no high bound: cannot be sure it is below
        .then(pl.lit("likely_below", STATUS_TYPE))
        .otherwise(pl.lit("below", STATUS_TYPE))
    )


def _classify(rows: pl.LazyFrame, projectable: bool) -> pl.LazyFrame:
    """Status of current compute; if it does not cross, of projected compute if that crosses."""
    if not projectable:
        return rows.with_columns(_raw_status=_interval_status("value"), projected=pl.lit(False))
    current, projection = pl.col("_current"), pl.col("_projection")
    use_projection = ~current.is_in(FLAGGED_STATUSES).fill_null(False) & projection.is_in(
        FLAGGED_STATUSES
    ).fill_null(False)
    return (
        rows.with_columns(
            _current=_interval_status("value"), _projection=_interval_status("projected")
        )
        .with_columns(projected=use_projection)
        .with_columns(
            pl.when("projected").then(projection).otherwise(current).alias("_raw_status"),
            *(
                pl.when("projected")
                .then(pl.col(f"projected_{b}"))
                .otherwise(pl.col(f"value_{b}"))
                .alias(f"value_{b}")
                for b in BOUNDS
            ),
        )
    )


def final_status(rows: pl.LazyFrame, statuses: pl.Series, combinations: int, decl: pl.Expr) -> pl.LazyFrame:
    """Final status, and ``_outcome`` from which the reason is gathered after collection."""
    rule = pl.col("_rule")
    raw_code = pl.col("_raw_status").to_physical().cast(pl.UInt32).fill_null(len(STATUSES))
    outcome = (rule.cast(pl.UInt32) * (len(STATUSES) + 1) + raw_code) * combinations + decl
    return rows.with_columns(
        status=pl.lit(statuses).gather(outcome), _outcome=outcome
    )


@dataclass(frozen=True)
class Outcomes:
    """Per outcome index ``((rule * 6) + interval status) * combinations + declaration code``."""

    status: pl.Series
    reason: pl.Series
    conditional: pl.Series
    unheld: pl.Series


def outcome_tables(regimes: Sequence[Regime], rules: pl.DataFrame, combinations: int) -> Outcomes:
    """Final status, reason and conditional state for each (regime, interval status, declared
    conditions) triple, indexed like ``_finish``.

    The rule is per regime, not per row, so it is plain Python over a few hundred triples:
    ``unknown`` when there is no estimate (regimes whose metric is not held get no rows); a condition declared not held
    makes the regime not apply (``below``); a crossing with conditions not declared is
    ``conditional`` on them (a non-crossing stays: the AND cannot hold).
    """
    statuses: list[str | None] = []
    reasons: list[str | None] = []
    conditional: list[bool] = []
    unheld: list[str | None] = []
    for regime, rule in zip(regimes, rules.iter_rows(named=True), strict=True):
        declarable = regime.declarable_conditions
        for raw in (*STATUSES, None):
            for code in range(combinations):
                # Digit i (base 3) of the code: condition i undeclared (0), held (1), not held (2).
                states = [(code // 3**i) % 3 for i in range(len(declarable))]
                status, reason, open_conditions = raw, None, None
                not_held = [key for (key, _), state in zip(declarable, states, strict=True) if state == 2]
                if not_held:
                    status = "below"
                    reason = f"does not apply: the provider declares {', '.join(not_held)} not held"
                elif raw is None:
                    status, reason = "unknown", f"no estimate of {rule['metric']}"
                elif raw in FLAGGED_STATUSES and 0 in states:
                    open_conditions = json.dumps(
                        [text for (_, text), state in zip(declarable, states, strict=True) if state == 0]
                    )
                statuses.append(status)
                reasons.append(reason)
                conditional.append(open_conditions is not None)
                unheld.append(open_conditions)
    return Outcomes(
        status=pl.Series(statuses, dtype=STATUS_TYPE),
        reason=pl.Series(reasons, dtype=pl.String),
        conditional=pl.Series(conditional, dtype=pl.Boolean),
        unheld=pl.Series(unheld, dtype=pl.String),
    )


def subject_index(system_keys: pl.Series) -> pl.DataFrame:
    return system_keys.to_frame("system_key").with_row_index("_subject")


def declaration_codes(
    declared: pl.DataFrame | None, regimes: Sequence[Regime], system_keys: pl.Series
) -> pl.DataFrame | None:
    """(``_subject``, ``_rule``, ``_decl``) for the systems that declared a condition some regime
    asks about: ``_decl`` codes each condition's state as one base-3 digit (see outcome_tables).
    None when no declaration concerns an evaluated regime (then every row's code is 0)."""
    keys = [
        {"condition": key, "_rule": rule, "_weight": 3**position}
        for rule, regime in enumerate(regimes)
        for position, (key, _) in enumerate(regime.declarable_conditions)
    ]
    if declared is None or not keys:
        return None
    found = (
        declared.unique(subset=["system_key", "condition"], keep="last")
        .join(pl.DataFrame(keys, schema={"condition": pl.String, "_rule": pl.UInt16, "_weight": pl.UInt32}),
              on="condition")
        .join(subject_index(system_keys), on="system_key")
    )
    if found.is_empty():
        return None
    return found.group_by("_subject", "_rule").agg(
        (pl.col("_weight") * pl.when(pl.col("held")).then(1).otherwise(2).cast(pl.UInt32)).sum().alias("_decl")
    ).with_columns(pl.col("_decl").cast(pl.UInt32))




CANDIDATES: dict[str, pl.DataType] = {
    "_subject": pl.UInt32(),
    "_rule": pl.UInt16(),
    **{f"value_{bound}": pl.Float64() for bound in BOUNDS},
    "_raw_status": STATUS_TYPE,
    "projected": pl.Boolean(),
    "crossing_hint": pl.Date(),
}
CANDIDATE_COLUMNS = list(CANDIDATES)
