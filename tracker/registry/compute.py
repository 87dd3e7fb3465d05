"""Pure glue: registry frames in, estimates and flags out. No database, clock or files."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl

from tracker.catalog.accelerators import Catalog
from tracker.estimate import (
    cluster_capacity,
    estimate_inference_periods,
    estimate_runs,
    estimate_systems,
)
from tracker.estimate.inference import summarise_inference
from tracker.estimate.lineage import lineage_cycles
from tracker.estimate.projection import crossing_date_expr
from tracker.regimes.evaluate import FLAG_SCHEMA, Evaluation, evaluate
from tracker.regimes.model import Regime
from tracker.registry.inputs import RegistryInputs

SET_ASIDE_SCHEMA: dict[str, pl.DataType] = {
    "system_key": pl.String(), "on_cycle": pl.Boolean(), "cycle": pl.List(pl.String()), "reason": pl.String(),
}


def _no_set_aside() -> pl.DataFrame:
    return pl.DataFrame(schema=SET_ASIDE_SCHEMA)


@dataclass(frozen=True)
class RegistryResult:
    run_estimates: pl.DataFrame
    systems: pl.DataFrame  # one row per system: identity, estimates, inference, provider
    clusters: pl.DataFrame
    evaluation: Evaluation
    inference_periods: pl.DataFrame  # one row per system and filed usage period
    # Systems left unestimated because their lineage loops (SET_ASIDE_SCHEMA): each flag of theirs
    # is `unknown` with ``reason``; the operators are told of each ``cycle`` (pipeline).
    set_aside: pl.DataFrame = field(default_factory=_no_set_aside)


def _run_order(runs: pl.DataFrame) -> pl.Expr:
    """What "newest run" is measured by: the run key as a number when every key is one (the store's
    keys are row ids written as text, and as text "9" would come after "10"), else as text."""
    keys = runs.get_column("run_key")
    as_number = keys.cast(pl.Int64, strict=False)
    if as_number.null_count() == keys.null_count():
        return pl.col("run_key").cast(pl.Int64)
    return pl.col("run_key")


def _systems_with_lineage(systems: pl.DataFrame, runs: pl.DataFrame, order: pl.Expr) -> pl.DataFrame:
    # A system's base is what its record says, else the base its newest run declares.
    run_base = (
        runs.filter(pl.col("base_system_key").is_not_null())
        .group_by("system_key")
        .agg(pl.col("base_system_key").get(order.arg_max()).alias("_run_base"))
    )
    if run_base.is_empty():
        return systems
    # Joined on the key column alone: a join copies every column of its left side.
    declared = systems.select("system_key").join(run_base, on="system_key", how="left", maintain_order="left")
    return systems.with_columns(pl.coalesce(pl.col("base_system_key"), declared.get_column("_run_base")))


def _active_parameters(runs: pl.DataFrame, usage: pl.DataFrame, order: pl.Expr) -> pl.DataFrame:
    """Per system with usage, the active parameter count of its newest run that files one (for
    inference: most systems file no usage, so their runs are left out before grouping)."""
    used = usage.get_column("system_key").unique().implode()
    # A per-group arg-max of the run order instead of sorting every run.
    return (
        runs.select("system_key", order.alias("_order"),
                    pl.coalesce("active_parameters", "parameters").alias("active_parameters"))
        .filter(pl.col("active_parameters").is_not_null() & pl.col("system_key").is_in(used))
        .group_by("system_key")
        .agg(pl.col("active_parameters").get(pl.col("_order").arg_max()))
    )


# Projected compute is left alone: a system with only pending runs also reads as "incomplete".
CUMULATIVE_HIGHS = ("training_flop_high", "param_update_flop_high")


def _unbounded_when_lineage_incomplete(systems: pl.DataFrame) -> pl.DataFrame:
    """A base system without an estimate leaves the cumulative figure a lower bound: drop the upper
    bound so the regime engine reads it as unbounded and never calls such a system `below`."""
    if "lineage_complete" not in systems.columns:
        return systems
    incomplete = pl.col("lineage_complete").not_().fill_null(False)
    return systems.with_columns(
        [pl.when(incomplete).then(None).otherwise(pl.col(c)).alias(c) for c in CUMULATIVE_HIGHS]
    )


PROJECTION_COLUMNS = ("training_flop_central", "projected_training_flop_central", "projected_flop_per_day",
                      "projection_start_date", "projection_end_date")


def _projected_crossings(flags: pl.DataFrame, systems: pl.DataFrame) -> pl.DataFrame:
    """For a projected flag on cumulative training compute, ``crossed_on`` is the date the planned
    or in-progress runs reach the threshold at their current rate (in the future, or null when the
    filing gives no dates)."""
    if flags.height == 0 or not set(PROJECTION_COLUMNS) <= set(systems.columns):
        return flags
    # Only the few projected flags need the join; the others keep their column untouched.
    projected = pl.col("projected") & (pl.col("metric") == "training_flop_cumulative")  # enum: no string per row
    rows = flags.select(projected.alias("_p")).get_column("_p").arg_true()
    if rows.len() == 0:
        return flags
    projection = systems.select(pl.col("system_key").alias("subject_key"), *PROJECTION_COLUMNS)
    dated = (
        flags.select("subject_key", "threshold")
        .gather(rows)
        .join(projection, on="subject_key", how="left", maintain_order="left")
        .select(crossing_date_expr(pl.col("threshold")).alias("crossed_on"))
        .get_column("crossed_on")
    )
    return flags.with_columns(flags.get_column("crossed_on").scatter(rows, dated))


def _beside(systems: pl.DataFrame, estimates: pl.DataFrame) -> pl.DataFrame:
    """The systems with their estimates: side by side when the rows already line up (estimate_systems
    keeps the order of its input), else by a join."""
    keys = systems.get_column("system_key")
    if estimates.height == systems.height and estimates.get_column("system_key").equals(keys):
        return pl.concat([systems, estimates.drop("system_key")], how="horizontal")
    return systems.join(estimates, on="system_key", how="left")


REASON_MAX_CHARS = 255  # Flag.reason


def _label(row: dict[str, object]) -> str:
    return f"{row['name']}@{row['version']}" if row.get("version") else str(row["name"])


def _cycle_reasons(systems: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """``found`` (lineage_cycles) with the reason each system's flags carry. A system of another
    provider on the cycle is not named: the reason is shown to the subject's provider."""
    keys = set(found.get_column("system_key").to_list()) | {k for c in found.get_column("cycle").to_list() for k in c}
    described = {r["system_key"]: r for r in systems.filter(pl.col("system_key").is_in(list(keys))).iter_rows(
        named=True)}
    reasons = []
    for key, on_cycle, cycle in found.select("system_key", "on_cycle", "cycle").iter_rows():
        own = described.get(key, {}).get("provider_id")
        names = [_label(described[k]) if k in described and described[k].get("provider_id") == own
                 else "another provider's system" for k in [*cycle, cycle[0]]]
        text = "lineage cycle: " + " -> ".join(names)
        if not on_cycle:
            text = "base lineage has a " + text
        reasons.append(text if len(text) <= REASON_MAX_CHARS else text[: REASON_MAX_CHARS - 1] + "\u2026")
    return found.with_columns(pl.Series("reason", reasons, dtype=pl.String))


def _cut_cycles(systems: pl.DataFrame, found: pl.DataFrame) -> pl.DataFrame:
    """The systems with the base of every cycle member pointing nowhere: the estimation then reads
    the lineage as a forest (a base that is no known system, never null: estimate_systems would
    fall back to a run's declared base and close the cycle again)."""
    members = found.filter(pl.col("on_cycle")).get_column("system_key").implode()
    return systems.with_columns(
        pl.when(pl.col("system_key").is_in(members)).then(pl.lit("")).otherwise(pl.col("base_system_key"))
        .alias("base_system_key")
    )


# Everything an evaluation reads about a system besides its identity: withheld for a set-aside system.
_WITHHELD = ("training_flop", "param_update_flop", "own_training_flop", "projected_training_flop",
             "inference_flop_30d")


def _withheld(systems: pl.DataFrame, keys: pl.Series, columns: list[str]) -> pl.DataFrame:
    present = [c for c in columns if c in systems.columns]
    aside = pl.col("system_key").is_in(keys.implode())
    return systems.with_columns(pl.when(aside).then(None).otherwise(pl.col(c)).alias(c) for c in present)


def _estimate_columns(systems: pl.DataFrame, *, inference: bool) -> list[str]:
    prefixes = _WITHHELD if inference else _WITHHELD[:-1]
    extra = ["base_training_flop_central", "largest_run_flop_central", "largest_run_flop_high",
             "last_completed_end_date", "projected_flop_per_day", "projection_start_date", "projection_end_date",
             "confidence", "methods"]
    return [c for c in systems.columns if c.startswith(prefixes) and not c.endswith("_inference")] + extra


def _reasoned(evaluation: Evaluation, set_aside: pl.DataFrame) -> Evaluation:
    """Flags of set-aside systems carry why (the engine says only "no estimate of ...")."""
    reasons = set_aside.select(pl.col("system_key").alias("subject_key"), pl.col("reason").alias("_why"))
    flags = evaluation.flags.join(reasons, on="subject_key", how="left", maintain_order="left").with_columns(
        pl.coalesce(pl.col("_why"), pl.col("reason").cast(pl.String)).cast(FLAG_SCHEMA["reason"]).alias("reason")
    ).drop("_why")
    return Evaluation(flags=flags, transitions=evaluation.transitions, first_evaluated=evaluation.first_evaluated)


def compute_registry(inputs: RegistryInputs, catalog: Catalog, regimes: list[Regime], as_of: date) -> RegistryResult:
    runs = inputs.runs.with_columns(catalog.resolve_series(inputs.runs["accelerator"]).alias("accelerator"))
    order = _run_order(runs)  # checked once: every run key parsed
    systems = _systems_with_lineage(inputs.systems, runs, order)
    # One provider's looping lineage must not stop everyone's evaluation: its systems are set aside.
    found = lineage_cycles(systems.select("system_key", "base_system_key"))
    set_aside = _no_set_aside()
    if found.height:
        set_aside = _cycle_reasons(inputs.systems, found)
        systems = _cut_cycles(systems, found)
    run_estimates = estimate_runs(runs, catalog)
    system_estimates = estimate_systems(run_estimates, systems.select("system_key", "base_system_key"), as_of)
    usage = inputs.usage.with_columns(catalog.resolve_series(inputs.usage["accelerator"]).alias("accelerator"))
    active = _active_parameters(runs, usage, order)
    inference_periods = estimate_inference_periods(usage, active, catalog, as_of)
    inference = summarise_inference(inference_periods)
    clusters = cluster_capacity(
        inputs.clusters.with_columns(catalog.resolve_series(inputs.clusters["accelerator"]).alias("accelerator")),
        catalog,
    )
    joined = _unbounded_when_lineage_incomplete(
        _beside(systems.drop("base_system_key"), system_estimates).join(
            inference, on="system_key", how="left", suffix="_inference"
        )
    )
    previous = inputs.previous_flags.drop("subject_kind")
    evaluated = joined
    if set_aside.height:
        aside = set_aside.get_column("system_key")
        joined = _withheld(joined, aside, _estimate_columns(joined, inference=False))
        evaluated = _withheld(joined, aside, _estimate_columns(joined, inference=True))
    evaluation = evaluate(evaluated, regimes, as_of, previous_flags=previous, clusters=clusters,
                          conditions=inputs.conditions)
    evaluation = Evaluation(flags=_projected_crossings(evaluation.flags, evaluated),
                            transitions=evaluation.transitions, first_evaluated=evaluation.first_evaluated)
    if set_aside.height:
        evaluation = _reasoned(evaluation, set_aside)
    return RegistryResult(run_estimates=run_estimates, systems=joined, clusters=clusters, evaluation=evaluation,
                          inference_periods=inference_periods, set_aside=set_aside)
