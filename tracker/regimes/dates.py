"""A flag's dates: when it was first flagged, when current compute crossed, and the regime's
deadline counted from them (never before the regime came into force)."""

from __future__ import annotations

from datetime import date

import polars as pl

from tracker.regimes.flag_schema import FLAGGED_STATUSES


def flag_dates(rows: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """``crossed_on`` and ``first_flagged_on`` from the final status and the stored flag's dates."""
    today = pl.lit(as_of, pl.Date)
    flagged = pl.col("status").is_in(FLAGGED_STATUSES)
    hint = pl.col("crossing_hint")
    return rows.with_columns(
        crossed_on=pl.when(flagged & ~pl.col("projected")).then(
            pl.coalesce("_previous_crossed_on", pl.when(hint <= today).then(hint), today)
        ),
        first_flagged_on=pl.when(flagged).then(pl.coalesce("_previous_first_flagged_on", today)),
    )


def with_deadlines(flags: pl.DataFrame, rules: pl.DataFrame, as_of: date) -> pl.DataFrame:
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

