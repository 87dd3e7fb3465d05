"""Evaluate every system (and cluster) against every regime that applies on a date.

Pure: frames and a date in, frames out. Rules (docs/regimes.md has examples):

* Which regimes: a regime is evaluated on ``as_of`` when its ``in_force`` window (binding law or
  guidance) or its ``informational`` window (proposed/draft text) contains the date. Only flags
  of in-force regimes with ``alerts: true`` have ``alerts_enabled``. A rescinded, vetoed or
  superseded regime gets no flags after its window ends (its history stays in the store), but is
  still evaluated for dates inside its window.
* Status from the 90% interval and the comparator: ``above`` (low past the threshold),
  ``likely_above`` (central past it), ``likely_below`` (central not past, high past), ``below``
  (high not past). A missing bound counts as unbounded on that side. ``unknown`` (with
  ``reason``) when the metric needs data the tracker lacks or no estimate exists.
* Conditions compute alone does not settle (``unheld_conditions``, declared by providers under
  the regime's ``condition_keys``, passed as ``conditions``): a crossing with some condition not
  declared keeps its status and is ``conditional`` with ``unheld_conditions`` (a JSON list of the
  conditions' text) still open; all declared held: an ordinary flag; any declared not held: the
  regime does not apply, status ``below`` with the reason. A non-crossing is never conditional.
* Tiers: a regime's ordered ``tiers`` grade each system (``tier``: the highest tier met, by the
  compared value's band and the declared domains).
* Projection: when current compute does not cross, the status of planned + in-progress compute
  is used if that crosses (``projected`` true; the value columns then hold projected figures).
* Dates: ``first_flagged_on`` = first evaluation with above/likely_above (projected or not);
  ``crossed_on`` = date current compute crossed (the last completed run's end date when newly
  seen). The deadline runs from ``crossed_on`` - or, where planned compute counts, from the
  earlier of it and ``first_flagged_on`` ("known it will be met") - but never before the regime
  came into force.
* History: ``transitions`` holds a row for every (subject, regime) whose status or projected
  flag differs from ``previous_flags`` (new pairs have ``old_status`` null); nothing is
  overwritten here. Previous flags of pairs no longer evaluated are left alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import get_args

import polars as pl

from tracker.regimes.load import regimes_frame
from tracker.regimes.model import CLUSTER_METRICS, Comparator, Metric, Regime, Tier

STATUSES = ("above", "likely_above", "likely_below", "below", "unknown")
FLAGGED_STATUSES = ("above", "likely_above")
# Closed vocabularies are enums: a fraction of the memory of strings on 10^7 rows.
_STATUS = pl.Enum(STATUSES)
_SUBJECT_KIND = pl.Enum(["system", "cluster"])
_METRIC = pl.Enum(get_args(Metric))
_COMPARATOR = pl.Enum(get_args(Comparator))
_BOUNDS = ("central", "low", "high")
# Regime ids and reasons are few per evaluation but repeated on every row: categoricals (4 bytes a
# row, lexical sort, joinable with each other) instead of 16-byte string views; 0.4 GB less to
# allocate for the 12.9M flag rows of 10^6 systems. Categories are process-wide in polars, which
# suits these: bounded by the regimes' ids and reason texts, not by the registry's size.
_REGIME_ID = pl.Categorical()
_REASON = pl.Categorical()

FLAG_SCHEMA: dict[str, pl.DataType] = {
    "subject_key": pl.String(),
    "subject_kind": _SUBJECT_KIND,
    "regime_id": _REGIME_ID,
    "metric": _METRIC,
    "comparator": _COMPARATOR,
    "threshold": pl.Float64(),
    "value_central": pl.Float64(),
    "value_low": pl.Float64(),
    "value_high": pl.Float64(),
    "status": _STATUS,
    "projected": pl.Boolean(),
    "crossed_on": pl.Date(),
    "first_flagged_on": pl.Date(),
    "deadline": pl.Date(),
    "overdue": pl.Boolean(),
    "notified_at": pl.Datetime("us", "UTC"),
    "alerts_enabled": pl.Boolean(),
    "reason": _REASON,
    "conditional": pl.Boolean(),
    "unheld_conditions": _REASON,
    "tier": _REASON,
}
TRANSITION_SCHEMA: dict[str, pl.DataType] = {
    "subject_key": pl.String(),
    "regime_id": _REGIME_ID,
    "old_status": _STATUS,
    "new_status": _STATUS,
    "old_projected": pl.Boolean(),
    "new_projected": pl.Boolean(),
    "changed_on": pl.Date(),
}
PREVIOUS_FLAG_SCHEMA: dict[str, pl.DataType] = {
    "subject_key": pl.String(),
    "regime_id": pl.String(),
    "status": pl.String(),
    "projected": pl.Boolean(),
    "first_flagged_on": pl.Date(),
    "crossed_on": pl.Date(),
    "deadline": pl.Date(),
    "notified_at": pl.Datetime("us", "UTC"),
}
# Columns the estimation engine provides; absent optional ones are read as null.
SYSTEM_COLUMNS: dict[str, pl.DataType] = {
    "system_key": pl.String(),
    "is_downstream_modifier": pl.Boolean(),
    **{
        f"{prefix}_{bound}": pl.Float64()
        for prefix in (
            "training_flop",
            "param_update_flop",
            "own_training_flop",
            "projected_training_flop",
            "inference_flop_30d",
        )
        for bound in ("central", "low", "high")
    },
    "base_training_flop_central": pl.Float64(),
    "largest_run_flop_central": pl.Float64(),
    "largest_run_flop_high": pl.Float64(),
    "last_completed_end_date": pl.Date(),
}
# Conditions providers declared: one row per system and condition key (``held`` false: declared
# not held). Only declared pairs appear; most systems have none.
CONDITION_COLUMNS: dict[str, pl.DataType] = {
    "system_key": pl.String(),
    "condition": pl.String(),
    "held": pl.Boolean(),
}
CLUSTER_COLUMNS: dict[str, pl.DataType] = {
    "cluster_key": pl.String(),
    "peak_ops_per_s_max": pl.Float64(),
}

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


@dataclass(frozen=True)
class Evaluation:
    flags: pl.DataFrame
    transitions: pl.DataFrame


def regime_is_in_force(regime: Regime, as_of: date) -> bool:
    """True when the regime binds (or, for guidance, applies) on ``as_of``."""
    return regime.phase_on(as_of) == "in_force"


def evaluate(
    systems: pl.DataFrame,
    regimes: Sequence[Regime],
    as_of: date,
    previous_flags: pl.DataFrame | None = None,
    clusters: pl.DataFrame | None = None,
    conditions: pl.DataFrame | None = None,
) -> Evaluation:
    """Flags of every subject x regime evaluated on ``as_of``, and the transitions since before.

    Rows are in no particular order. Regimes are few and rows many, so rows carry a small
    ``_rule`` index and regime attributes are looked up by expression, never copied per row
    until the output needs them. ``conditions`` (``CONDITION_COLUMNS``) are the declared ones.
    """
    active = [regime for regime in regimes if regime.phase_on(as_of) != "inactive"]
    rules = (
        regimes_frame(active)
        .with_columns(
            _rule=pl.int_range(len(active), dtype=pl.UInt16),
            in_force_now=pl.Series(
                [regime_is_in_force(r, as_of) for r in active], dtype=pl.Boolean
            ),
        )
        .with_columns(alerts_enabled=pl.col("alerts") & pl.col("in_force_now"))
    )
    # Subjects are numbered (systems first, then clusters) so that rows carry a UInt32, not a
    # string, until the output: joins and copies on 10^7 rows are several times cheaper.
    system_frame = _with_columns(systems, SYSTEM_COLUMNS)
    cluster_frame = _with_columns(
        clusters if clusters is not None else pl.DataFrame(schema=CLUSTER_COLUMNS), CLUSTER_COLUMNS
    )
    subjects = pl.concat(
        [system_frame.get_column("system_key"), cluster_frame.get_column("cluster_key")]
    ).rename("subject_key").rechunk()  # a gather from one chunk is ~10x faster than from two
    if subjects.is_duplicated().any():
        raise ValueError("system_key / cluster_key values must be unique")
    parts = []
    for metric in rules.get_column("metric").unique(maintain_order=True).to_list():
        group = rules.filter(pl.col("metric") == metric)
        if metric in CLUSTER_METRICS:
            frame = cluster_frame.lazy().with_row_index("_subject", offset=system_frame.height)
            parts.append(_cluster_rows(frame, group))
        else:
            parts.append(
                _system_rows(system_frame.lazy().with_row_index("_subject"), metric, group)
            )
    candidates = pl.concat(parts, how="vertical") if parts else pl.LazyFrame(schema=_CANDIDATES)
    declared = (
        _with_columns(conditions, CONDITION_COLUMNS)
        if conditions is not None and not conditions.is_empty() else None
    )
    # Every combination of a regime's conditions (undeclared, held, not held) is an outcome.
    combinations = 3 ** max((len(r.unheld_conditions) for r in active), default=0)
    declarations = _declarations(declared, active, system_frame.get_column("system_key"))
    decl = pl.lit(0, pl.UInt32)  # no declaration concerns an evaluated regime: every row's code is 0
    if declarations is not None:
        # Placed in a dense (subject x regime) slot array and gathered, as the previous flags are:
        # a join of every candidate row with the few declared pairs costs as much as the evaluation.
        # Codes are below 3^6 = 729: two bytes a slot.
        codes = pl.zeros(len(subjects) * rules.height, dtype=pl.UInt16, eager=True).scatter(
            declarations.select(_slot(rules.height)).to_series(), declarations.get_column("_decl").cast(pl.UInt16)
        )
        candidates = candidates.with_columns(_decl=pl.lit(codes).gather(_slot(rules.height)))
        decl = pl.col("_decl").cast(pl.UInt32)
    outcomes = _outcome_tables(active, rules, combinations)

    joined = _join_previous(candidates, previous_flags, rules, subjects)
    result = (
        _finish(joined, outcomes.status, combinations, decl, as_of)
        .select(*(c for c in FLAG_SCHEMA if c not in _LATE), "old_status", "old_projected", "_rule", "_subject",
                "_outcome")
        .collect(engine="streaming")
        # The streaming engine returns many chunks, not aligned across columns, and every eager
        # operation on such a frame first realigns all of them. Fixed-width columns rechunk
        # cheaply; the strings are gathered afterwards from one chunk each.
        .rechunk()
    )
    # Per-regime and per-subject columns are gathered here, once, rather than carried through
    # the streaming query and its rechunk (a third of the evaluation's time at 10^6 systems).
    subject, rule = result.get_column("_subject"), result.get_column("_rule")
    result = result.with_columns(
        pl.when(subject < system_frame.height).then(pl.lit("system", _SUBJECT_KIND))
        .otherwise(pl.lit("cluster", _SUBJECT_KIND)).alias("subject_kind"),
        *(rules.get_column(name).cast(dtype).gather(rule).alias(name) for name, dtype in _PER_REGIME.items()),
        subjects.gather(subject).alias("subject_key"),
        rules.get_column("regime_id").cast(_REGIME_ID).gather(rule).alias("regime_id"),
        outcomes.reason.cast(_REASON).gather(result.get_column("_outcome")).alias("reason"),
        outcomes.conditional.gather(result.get_column("_outcome")).alias("conditional"),
        outcomes.unheld.cast(_REASON).gather(result.get_column("_outcome")).alias("unheld_conditions"),
    )
    result = result.with_columns(_tiers(result, active, declared, system_frame.get_column("system_key")))
    result = _with_deadlines(result, rules, as_of)

    flags = result.select(list(FLAG_SCHEMA))
    # Narrow before filtering: on a first evaluation every pair is a transition, and filtering the
    # full flag frame would copy all its columns.
    transitions = result.select(
        "subject_key",
        "regime_id",
        "old_status",
        pl.col("status").alias("new_status"),
        "old_projected",
        pl.col("projected").alias("new_projected"),
        pl.lit(as_of, pl.Date).alias("changed_on"),
    )
    changed = (
        transitions.get_column("old_status").is_null()
        | (transitions.get_column("old_status") != transitions.get_column("new_status"))
        | (transitions.get_column("old_projected").fill_null(False) != transitions.get_column("new_projected"))
    )
    if not changed.all():
        transitions = transitions.filter(changed)
    return Evaluation(flags=flags, transitions=transitions)


def _with_columns(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Keep only the columns the engine reads, adding absent optional ones as nulls."""
    key = next(iter(schema))
    if key not in frame.columns:
        raise ValueError(f"input frame needs a '{key}' column")
    return frame.select(
        (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in schema.items()
    )


def _system_rows(systems: pl.LazyFrame, metric: str, rules: pl.DataFrame) -> pl.LazyFrame:
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
            for name, bound in zip(columns, _BOUNDS, strict=True)
        ]
    if projectable:
        selected += [
            pl.col(f"projected_training_flop_{bound}").alias(f"projected_{bound}")
            for bound in _BOUNDS
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
    if columns is None:  # a metric the tracker does not hold: no value, status decided later
        return rows.select(
            "_subject",
            "_rule",
            *(pl.lit(None, pl.Float64).alias(f"value_{bound}") for bound in _BOUNDS),
            pl.lit(None, _STATUS).alias("_raw_status"),
            pl.lit(False).alias("projected"),
            "crossing_hint",
        )
    if metric == "modification_flop_ratio":
        rows = rows.with_columns(pl.col(f"value_{b}") / pl.col("_base_flop") for b in _BOUNDS)
    elif metric == "relative_to_largest_run":
        reference = pl.coalesce(pl.col("reference_flop"), pl.col("_largest_flop"))
        rows = rows.with_columns(
            pl.col(f"{kind}_{b}") / reference for kind in ("value", "projected") for b in _BOUNDS
        )
    return _classify(rows, projectable).select(_CANDIDATE_COLUMNS)


def _cluster_rows(clusters: pl.LazyFrame, rules: pl.DataFrame) -> pl.LazyFrame:
    """Clusters have a point value (theoretical peak): the interval is the value itself."""
    peak = pl.col("peak_ops_per_s_max")
    rows = clusters.select(
        "_subject",
        *(peak.alias(f"value_{bound}") for bound in _BOUNDS),
        pl.lit(None, pl.Date).alias("crossing_hint"),
    ).join(rules.select("_rule", "threshold", "comparator").lazy(), how="cross")
    return _classify(rows, projectable=False).select(_CANDIDATE_COLUMNS)


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
    central, low, high = (pl.col(f"{kind}_{bound}") for bound in _BOUNDS)
    return (
        pl.when(central.is_null())
        .then(pl.lit(None, _STATUS))
        .when(_past(low).fill_null(False))  # no low bound: cannot be sure it is above
        .then(pl.lit("above", _STATUS))
        .when(_past(central))
        .then(pl.lit("likely_above", _STATUS))
        .when(_past(high).fill_null(True))  # no high bound: cannot be sure it is below
        .then(pl.lit("likely_below", _STATUS))
        .otherwise(pl.lit("below", _STATUS))
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
                for b in _BOUNDS
            ),
        )
    )


def _join_previous(
    candidates: pl.LazyFrame,
    previous_flags: pl.DataFrame | None,
    rules: pl.DataFrame,
    subjects: pl.Series,
) -> pl.LazyFrame:
    """Attach the stored flag state; flags of regimes not evaluated now are left out.

    (subject, regime) pairs are dense integers, so instead of a hash join of two 10^7-row frames
    the previous rows are placed in a slot array (subjects x regimes) and gathered by index.
    """
    previous_columns = {
        "old_status": _STATUS,
        "old_projected": pl.Boolean(),
        "_previous_first_flagged_on": pl.Date(),
        "_previous_crossed_on": pl.Date(),
        "notified_at": PREVIOUS_FLAG_SCHEMA["notified_at"],
    }
    if previous_flags is None or previous_flags.is_empty():
        return candidates.with_columns(
            pl.lit(None, dtype).alias(name) for name, dtype in previous_columns.items()
        )
    rule_count = rules.height
    previous = (
        _with_columns(previous_flags, PREVIOUS_FLAG_SCHEMA)
        .lazy()
        .join(subjects.to_frame().with_row_index("_subject").lazy(), on="subject_key")
        .with_columns(
            pl.col("regime_id")
            .replace_strict(
                rules.get_column("regime_id"),
                rules.get_column("_rule"),
                default=None,
                return_dtype=pl.UInt16,
            )
            .alias("_rule")
        )
        .filter(pl.col("_rule").is_not_null())
        .select(
            _slot(rule_count),
            pl.col("status").cast(_STATUS).alias("old_status"),
            pl.col("projected").alias("old_projected"),
            pl.col("first_flagged_on").alias("_previous_first_flagged_on"),
            pl.col("crossed_on").alias("_previous_crossed_on"),
            "notified_at",
        )
        .collect(engine="streaming")
        .rechunk()  # gathered from below: one chunk gathers ~10x faster than many
    )
    row_of_slot = pl.repeat(None, len(subjects) * rule_count, dtype=pl.UInt32, eager=True).scatter(
        previous.get_column("_slot"), pl.int_range(previous.height, dtype=pl.UInt32, eager=True)
    )
    return candidates.with_columns(
        _previous_row=pl.lit(row_of_slot).gather(_slot(rule_count))
    ).with_columns(
        pl.lit(previous.get_column(name)).gather("_previous_row").alias(name)
        for name in previous_columns
    )


def _slot(rule_count: int) -> pl.Expr:
    """The dense index of a (subject, regime) pair."""
    return (pl.col("_subject").cast(pl.UInt64) * rule_count + pl.col("_rule")).alias("_slot")


def _finish(rows: pl.LazyFrame, statuses: pl.Series, combinations: int, decl: pl.Expr,
            as_of: date) -> pl.LazyFrame:
    """Final status (and ``_outcome``, from which the reason is gathered after collection) and the
    dates."""
    rule = pl.col("_rule")
    raw_code = pl.col("_raw_status").to_physical().cast(pl.UInt32).fill_null(len(STATUSES))
    outcome = (rule.cast(pl.UInt32) * (len(STATUSES) + 1) + raw_code) * combinations + decl
    today = pl.lit(as_of, pl.Date)
    flagged = pl.col("status").is_in(FLAGGED_STATUSES)
    hint = pl.col("crossing_hint")
    return (
        rows.with_columns(
            status=pl.lit(statuses).gather(outcome), _outcome=outcome
        )
        .with_columns(
            crossed_on=pl.when(flagged & ~pl.col("projected")).then(
                pl.coalesce("_previous_crossed_on", pl.when(hint <= today).then(hint), today)
            ),
            first_flagged_on=pl.when(flagged).then(
                pl.coalesce("_previous_first_flagged_on", today)
            ),
        )
    )


@dataclass(frozen=True)
class _Outcomes:
    """Per outcome index ``((rule * 6) + interval status) * combinations + declaration code``."""

    status: pl.Series
    reason: pl.Series
    conditional: pl.Series
    unheld: pl.Series


def _outcome_tables(regimes: Sequence[Regime], rules: pl.DataFrame, combinations: int) -> _Outcomes:
    """Final status, reason and conditional state for each (regime, interval status, declared
    conditions) triple, indexed like ``_finish``.

    The rule is per regime, not per row, so it is plain Python over a few hundred triples:
    ``unknown`` when the metric is not held or there is no estimate; a condition declared not held
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
                if rule["unknown_reason"] is not None:
                    status, reason = "unknown", rule["unknown_reason"]
                elif not_held:
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
    return _Outcomes(
        status=pl.Series(statuses, dtype=_STATUS),
        reason=pl.Series(reasons, dtype=pl.String),
        conditional=pl.Series(conditional, dtype=pl.Boolean),
        unheld=pl.Series(unheld, dtype=pl.String),
    )


def _subject_index(system_keys: pl.Series) -> pl.DataFrame:
    return system_keys.to_frame("system_key").with_row_index("_subject")


def _declarations(
    declared: pl.DataFrame | None, regimes: Sequence[Regime], system_keys: pl.Series
) -> pl.DataFrame | None:
    """(``_subject``, ``_rule``, ``_decl``) for the systems that declared a condition some regime
    asks about: ``_decl`` codes each condition's state as one base-3 digit (see _outcome_tables).
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
        .join(_subject_index(system_keys), on="system_key")
    )
    if found.is_empty():
        return None
    return found.group_by("_subject", "_rule").agg(
        (pl.col("_weight") * pl.when(pl.col("held")).then(1).otherwise(2).cast(pl.UInt32)).sum().alias("_decl")
    ).with_columns(pl.col("_decl").cast(pl.UInt32))


def _tiers(
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
        return tier.cast(_REASON)
    part = result.select("_subject", "_rule", "value_central").gather(rows)
    domains = sorted({key for _, regime in tiered for t in regime.tiers for key in t.domains})
    if declared is not None and domains:
        held = (
            declared.filter(pl.col("held") & pl.col("condition").is_in(domains))
            .join(_subject_index(system_keys), on="system_key")
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
    return tier.scatter(rows, graded).cast(_REASON)


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


_DATED = ("deadline", "overdue")
# The regime's own attributes, gathered onto the rows by their ``_rule`` index.
_PER_REGIME: dict[str, pl.DataType] = {"metric": _METRIC, "comparator": _COMPARATOR, "threshold": pl.Float64(),
                                       "alerts_enabled": pl.Boolean()}
# Added after the lazy query (strings are gathered from one chunk; deadlines on dated rows only).
_LATE = (*_DATED, *_PER_REGIME, "subject_kind", "subject_key", "regime_id", "reason", "conditional",
         "unheld_conditions", "tier")


def _with_deadlines(flags: pl.DataFrame, rules: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """``deadline`` and ``overdue``, computed on the rows that have a crossing or first-flag date
    (a deadline needs one) and scattered into place: the per-regime date arithmetic on every row
    cost more than the rest of the classification."""
    dated = (pl.col("crossed_on").is_not_null() | pl.col("first_flagged_on").is_not_null()).alias("_dated")
    rows = flags.select(dated).get_column("_dated").arg_true()
    deadline = pl.repeat(None, flags.height, dtype=pl.Date, eager=True).alias("deadline")
    if rows.len() > 0:
        computed = (
            flags.select("_rule", "crossed_on", "first_flagged_on").gather(rows).select(_deadline(rules).alias("d"))
        )
        deadline = deadline.scatter(rows, computed.get_column("d"))
    return flags.with_columns(deadline).with_columns(
        overdue=(pl.col("deadline") < pl.lit(as_of, pl.Date)).fill_null(False) & pl.col("notified_at").is_null(),
    )


def _deadline(rules: pl.DataFrame) -> pl.Expr:
    """Anchor + the regime's clock, for flags of in-force regimes that have one.

    The anchor is ``crossed_on`` or, where planned compute counts, the earlier of it and
    ``first_flagged_on``; it never precedes the regime's entry into force (EU: models that
    crossed earlier notify within two weeks of 2 Aug 2025). One branch per regime with a clock.
    """
    crossed_on, first_flagged_on = pl.col("crossed_on"), pl.col("first_flagged_on")
    deadline: pl.Expr = pl.lit(None, pl.Date)
    clocked = rules.filter(pl.col("in_force_now") & pl.col("deadline_days").is_not_null())
    for regime in clocked.iter_rows(named=True):
        known_on = (
            pl.min_horizontal(crossed_on, first_flagged_on)
            if regime["planned_counts"]
            else crossed_on
        )
        anchor = known_on
        if regime["in_force_from"] is not None:
            anchor = pl.when(known_on.is_not_null()).then(
                pl.max_horizontal(known_on, pl.lit(regime["in_force_from"], pl.Date))
            )
        days, months = regime["deadline_days"], regime["deadline_months"]
        if regime["deadline_working_days"]:
            # Counting starts the day after the anchor (deadlines.add_working_days).
            due = anchor.dt.add_business_days(days, roll="backward") if days else anchor
        else:
            due = (anchor.dt.offset_by(f"{months}mo") if months else anchor) + pl.duration(
                days=days
            )
        deadline = pl.when(pl.col("_rule") == regime["_rule"]).then(due).otherwise(deadline)
    return deadline


_CANDIDATES: dict[str, pl.DataType] = {
    "_subject": pl.UInt32(),
    "_rule": pl.UInt16(),
    **{f"value_{bound}": pl.Float64() for bound in _BOUNDS},
    "_raw_status": _STATUS,
    "projected": pl.Boolean(),
    "crossing_hint": pl.Date(),
}
_CANDIDATE_COLUMNS = list(_CANDIDATES)
