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
  ``reason``) when no estimate exists. A regime whose metric the tracker does not hold
  (``Regime.unknown_reason``) gets no rows at all: its reason is the regime's, said once.
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
* History: a subject with no previous flag under any regime is evaluated for the first time and
  gets one ``first_evaluated`` row (its highest status), no transitions. For the others,
  ``transitions`` holds a row for every (subject, regime) whose status or projected flag differs
  from ``previous_flags`` (new pairs have ``old_status`` null); nothing is overwritten here.
  Previous flags of pairs no longer evaluated are left alone. The shell stores both in
  ``flag_event`` (``kind`` ``transition`` or ``first_evaluated``, the latter with no regime).
* Sparse: dates, deadlines, reasons, open conditions and tiers are null on the rows that have none
  (dates only on crossings, reasons only on unknown or not-applying rows).

Modules: ``flag_schema`` (columns), ``status`` (rows and statuses), ``tiers``, ``dates``
(dates and deadlines), ``history`` (stored state, transitions, first evaluations); this one
wires them together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from tracker.regimes.dates import flag_dates, with_deadlines
from tracker.regimes.flag_schema import (
    CLUSTER_COLUMNS,
    COMPARATOR_TYPE,
    CONDITION_COLUMNS,
    FLAG_SCHEMA,
    FLAGGED_STATUSES,
    METRIC_TYPE,
    PREVIOUS_FLAG_SCHEMA,
    REASON_TYPE,
    REGIME_ID_TYPE,
    STATUSES,
    SUBJECT_KIND_TYPE,
    SYSTEM_COLUMNS,
    TRANSITION_SCHEMA,
    conform,
)
from tracker.regimes.history import (
    FIRST_EVALUATED_SCHEMA,
    first_evaluations,
    join_previous,
    previously_evaluated,
    slot,
    transitions_of,
)
from tracker.regimes.load import regimes_frame
from tracker.regimes.model import CLUSTER_METRICS, Regime
from tracker.regimes.status import (
    CANDIDATES,
    cluster_rows,
    declaration_codes,
    final_status,
    outcome_tables,
    system_rows,
)
from tracker.regimes.tiers import tiers

__all__ = ["CLUSTER_COLUMNS", "CONDITION_COLUMNS", "FIRST_EVALUATED_SCHEMA", "FLAGGED_STATUSES", "FLAG_SCHEMA",
           "PREVIOUS_FLAG_SCHEMA", "STATUSES", "SYSTEM_COLUMNS", "TRANSITION_SCHEMA", "Evaluation", "evaluate",
           "regime_is_in_force"]



def _no_first_evaluations() -> pl.DataFrame:
    return pl.DataFrame(schema=FIRST_EVALUATED_SCHEMA)


@dataclass(frozen=True)
class Evaluation:
    flags: pl.DataFrame  # FLAG_SCHEMA: one row per (subject, assessable regime) pair
    transitions: pl.DataFrame  # TRANSITION_SCHEMA: changes of subjects evaluated before
    # FIRST_EVALUATED_SCHEMA: one row per subject with flags now and none stored before.
    first_evaluated: pl.DataFrame = field(default_factory=_no_first_evaluations)


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
    system_frame = conform(systems, SYSTEM_COLUMNS)
    cluster_frame = conform(
        clusters if clusters is not None else pl.DataFrame(schema=CLUSTER_COLUMNS), CLUSTER_COLUMNS
    )
    subjects = pl.concat(
        [system_frame.get_column("system_key"), cluster_frame.get_column("cluster_key")]
    ).rename("subject_key").rechunk()  # a gather from one chunk is ~10x faster than from two
    if subjects.is_duplicated().any():
        raise ValueError("system_key / cluster_key values must be unique")
    parts = []
    # A regime whose metric the tracker does not hold gets no rows at all: its status would be
    # ``unknown`` for every subject, which the regime's definition already says once.
    assessable = rules.filter(pl.col("unknown_reason").is_null())
    for metric in assessable.get_column("metric").unique(maintain_order=True).to_list():
        group = assessable.filter(pl.col("metric") == metric)
        if metric in CLUSTER_METRICS:
            frame = cluster_frame.lazy().with_row_index("_subject", offset=system_frame.height)
            parts.append(cluster_rows(frame, group))
        else:
            parts.append(
                system_rows(system_frame.lazy().with_row_index("_subject"), metric, group)
            )
    candidates = pl.concat(parts, how="vertical") if parts else pl.LazyFrame(schema=CANDIDATES)
    declared = (
        conform(conditions, CONDITION_COLUMNS)
        if conditions is not None and not conditions.is_empty() else None
    )
    # Every combination of a regime's conditions (undeclared, held, not held) is an outcome.
    combinations = 3 ** max((len(r.unheld_conditions) for r in active), default=0)
    declarations = declaration_codes(declared, active, system_frame.get_column("system_key"))
    decl = pl.lit(0, pl.UInt32)  # no declaration concerns an evaluated regime: every row's code is 0
    if declarations is not None:
        # Placed in a dense (subject x regime) slot array and gathered, as the previous flags are:
        # a join of every candidate row with the few declared pairs costs as much as the evaluation.
        # Codes are below 3^6 = 729: two bytes a slot.
        codes = pl.zeros(len(subjects) * rules.height, dtype=pl.UInt16, eager=True).scatter(
            declarations.select(slot(rules.height)).to_series(), declarations.get_column("_decl").cast(pl.UInt16)
        )
        candidates = candidates.with_columns(_decl=pl.lit(codes).gather(slot(rules.height)))
        decl = pl.col("_decl").cast(pl.UInt32)
    outcomes = outcome_tables(active, rules, combinations)

    joined = join_previous(candidates, previous_flags, rules, subjects)
    seen = previously_evaluated(previous_flags, subjects)
    result = (
        flag_dates(final_status(joined, outcomes.status, combinations, decl), as_of)
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
        pl.when(subject < system_frame.height).then(pl.lit("system", SUBJECT_KIND_TYPE))
        .otherwise(pl.lit("cluster", SUBJECT_KIND_TYPE)).alias("subject_kind"),
        *(rules.get_column(name).cast(dtype).gather(rule).alias(name) for name, dtype in _PER_REGIME.items()),
        subjects.gather(subject).alias("subject_key"),
        rules.get_column("regime_id").cast(REGIME_ID_TYPE).gather(rule).alias("regime_id"),
        outcomes.reason.cast(REASON_TYPE).gather(result.get_column("_outcome")).alias("reason"),
        outcomes.conditional.gather(result.get_column("_outcome")).alias("conditional"),
        outcomes.unheld.cast(REASON_TYPE).gather(result.get_column("_outcome")).alias("unheld_conditions"),
    )
    result = result.with_columns(tiers(result, active, declared, system_frame.get_column("system_key")))
    result = with_deadlines(result, rules, as_of)

    return Evaluation(flags=result.select(list(FLAG_SCHEMA)), transitions=transitions_of(result, seen, as_of),
                      first_evaluated=first_evaluations(result, seen, subjects, as_of))


_DATED = ("deadline", "overdue")
# The regime's own attributes, gathered onto the rows by their ``_rule`` index.
_PER_REGIME: dict[str, pl.DataType] = {"metric": METRIC_TYPE, "comparator": COMPARATOR_TYPE, "threshold": pl.Float64(),
                                       "alerts_enabled": pl.Boolean()}
# Added after the lazy query (strings are gathered from one chunk; deadlines on dated rows only).
_LATE = (*_DATED, *_PER_REGIME, "subject_kind", "subject_key", "regime_id", "reason", "conditional",
         "unheld_conditions", "tier")

