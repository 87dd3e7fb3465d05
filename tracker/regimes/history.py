"""A flag's history: the stored state of each (subject, regime) pair joined onto this evaluation's
rows, and the transitions between the two."""

from __future__ import annotations

from datetime import date

import polars as pl

from tracker.regimes.flag_schema import (
    PREVIOUS_FLAG_SCHEMA,
    STATUS_TYPE,
    STATUSES,
    TRANSITION_SCHEMA,
    conform,
)

# A subject evaluated for the first time: one event, not one transition per regime.
FIRST_EVALUATED_SCHEMA: dict[str, pl.DataType] = {
    "subject_key": pl.String(),
    "status": STATUS_TYPE,  # the highest status over the regimes evaluated
    "changed_on": pl.Date(),
}


def join_previous(
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
        "old_status": STATUS_TYPE,
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
        conform(previous_flags, PREVIOUS_FLAG_SCHEMA)
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
            slot(rule_count),
            pl.col("status").cast(STATUS_TYPE).alias("old_status"),
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
        _previous_row=pl.lit(row_of_slot).gather(slot(rule_count))
    ).with_columns(
        pl.lit(previous.get_column(name)).gather("_previous_row").alias(name)
        for name in previous_columns
    )


def slot(rule_count: int) -> pl.Expr:
    """The dense index of a (subject, regime) pair."""
    return (pl.col("_subject").cast(pl.UInt64) * rule_count + pl.col("_rule")).alias("_slot")



def previously_evaluated(previous_flags: pl.DataFrame | None, subjects: pl.Series) -> pl.Series:
    """Per subject (in ``subjects`` order): whether any flag of it is stored, under any regime."""
    seen = pl.repeat(False, len(subjects), dtype=pl.Boolean, eager=True)
    if previous_flags is None or previous_flags.is_empty():
        return seen
    stored = previous_flags.select(pl.col("subject_key").cast(pl.String)).unique()
    rows = subjects.to_frame().with_row_index("_subject").join(stored, on="subject_key").get_column("_subject")
    return seen.scatter(rows, True) if rows.len() else seen


def transitions_of(result: pl.DataFrame, seen: pl.Series, as_of: date) -> pl.DataFrame:
    """Rows whose status or projected flag differs from the stored flag, for subjects evaluated
    before (a new pair of such a subject has ``old_status`` null). A subject evaluated for the
    first time has no transition: its one event is in ``first_evaluations``."""
    if not seen.any():
        return pl.DataFrame(schema=TRANSITION_SCHEMA)
    # Narrow before filtering: the full flag frame would copy all its columns.
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
    ) & seen.gather(result.get_column("_subject"))
    if not changed.all():
        transitions = transitions.filter(changed)
    return transitions


def first_evaluations(result: pl.DataFrame, seen: pl.Series, subjects: pl.Series, as_of: date) -> pl.DataFrame:
    """One row per subject with flags now and none stored before: its highest status over the
    regimes evaluated (STATUSES run from highest to lowest, so the smallest code)."""
    rows = result.select("_subject", pl.col("status").to_physical().alias("_code"))
    if seen.any():
        rows = rows.filter(~pl.lit(seen).gather(pl.col("_subject")))
    firsts = rows.group_by("_subject").agg(pl.col("_code").min())
    return pl.DataFrame({
        "subject_key": subjects.gather(firsts.get_column("_subject")),
        "status": pl.Series(STATUSES, dtype=STATUS_TYPE).gather(firsts.get_column("_code")),
        "changed_on": pl.repeat(as_of, firsts.height, dtype=pl.Date, eager=True),
    }, schema=FIRST_EVALUATED_SCHEMA)
