"""The columns of the regime engine: what it reads (systems, clusters, declared conditions, stored
flags) and what it writes (flags, transitions), with the closed vocabularies as enums."""

from __future__ import annotations

from typing import get_args

import polars as pl

from tracker.regimes.model import Comparator, Metric

STATUSES = ("above", "likely_above", "likely_below", "below", "unknown")
FLAGGED_STATUSES = ("above", "likely_above")
# Closed vocabularies are enums: a fraction of the memory of strings on 10^7 rows.
STATUS_TYPE = pl.Enum(STATUSES)
SUBJECT_KIND_TYPE = pl.Enum(["system", "cluster"])
METRIC_TYPE = pl.Enum(get_args(Metric))
COMPARATOR_TYPE = pl.Enum(get_args(Comparator))
BOUNDS = ("central", "low", "high")
# Regime ids and reasons are few per evaluation but repeated on every row: categoricals (4 bytes a
# row, lexical sort, joinable with each other) instead of 16-byte string views; 0.4 GB less to
# allocate for the 12.9M flag rows of 10^6 systems. Categories are process-wide in polars, which
# suits these: bounded by the regimes' ids and reason texts, not by the registry's size.
REGIME_ID_TYPE = pl.Categorical()
REASON_TYPE = pl.Categorical()

FLAG_SCHEMA: dict[str, pl.DataType] = {
    "subject_key": pl.String(),
    "subject_kind": SUBJECT_KIND_TYPE,
    "regime_id": REGIME_ID_TYPE,
    "metric": METRIC_TYPE,
    "comparator": COMPARATOR_TYPE,
    "threshold": pl.Float64(),
    "value_central": pl.Float64(),
    "value_low": pl.Float64(),
    "value_high": pl.Float64(),
    "status": STATUS_TYPE,
    "projected": pl.Boolean(),
    "crossed_on": pl.Date(),
    "first_flagged_on": pl.Date(),
    "deadline": pl.Date(),
    "overdue": pl.Boolean(),
    "notified_at": pl.Datetime("us", "UTC"),
    "alerts_enabled": pl.Boolean(),
    "reason": REASON_TYPE,
    "conditional": pl.Boolean(),
    "unheld_conditions": REASON_TYPE,
    "tier": REASON_TYPE,
}
TRANSITION_SCHEMA: dict[str, pl.DataType] = {
    "subject_key": pl.String(),
    "regime_id": REGIME_ID_TYPE,
    "old_status": STATUS_TYPE,
    "new_status": STATUS_TYPE,
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



def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Keep only the columns the engine reads, adding absent optional ones as nulls."""
    key = next(iter(schema))
    if key not in frame.columns:
        raise ValueError(f"input frame needs a '{key}' column")
    return frame.select(
        (pl.col(name) if name in frame.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in schema.items()
    )

