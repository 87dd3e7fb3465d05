"""evaluate: re-estimate and evaluate N systems against every regime (``compute_registry``).

Ours is the registry's pure glue end to end: accelerator names resolved, every run estimated by
every method and reconciled, systems accumulated over their lineage, inference estimated,
clusters sized, and every subject evaluated against every regime active on the date (flags and
transitions; no previous flags, i.e. a first evaluation, where every pair is a transition).

The baseline is one hand-written polars query over the same frames: hardware (chips x hours x
peak of the filed or assumed format x filed-or-prior utilization), 6ND and reported figures per
run, their geometric mean, summed per system plus the base system's own compute (one level of
lineage), then compared with each active regime's threshold (low/high as central /2 and x2). It
is the least work that produces comparable central estimates and threshold statuses: no
intervals from error propagation, no notes, no multi-level lineage, no deadlines or history.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from bench import common, generate

NAME = "evaluate"
BASE_SIZE = 10_000  # systems at x1; x100 = 1,000,000 (the scale)
TARGET_RATIO = 1.5
REPETITIONS = {1: 5, 10: 5, 100: 3}
MODULE = "bench.evaluate"
_SYSTEM_METRICS = ("training_flop_cumulative", "training_flop_param_updates", "modification_flop",
                   "modification_flop_ratio", "training_run_ops")


def prepare(size: int) -> dict[str, Any]:
    directory = common.work_dir(NAME) / f"n{size}"
    return {"paths": generate.write_registry(directory, size), "as_of": generate.AS_OF.isoformat()}


def setup(ctx: dict[str, Any]) -> dict[str, Any]:
    from tracker.catalog.accelerators import load_catalog
    from tracker.regimes.load import load_regimes

    return {"inputs": generate.read_registry(ctx["paths"]), "catalog": load_catalog(),
            "regimes": load_regimes(), "as_of": date.fromisoformat(ctx["as_of"])}


def ours(state: dict[str, Any]) -> dict[str, Any]:
    from tracker.registry.compute import compute_registry

    result = compute_registry(state["inputs"], state["catalog"], state["regimes"], state["as_of"])
    flags = result.evaluation.flags
    return {"systems": result.systems.height, "runs": result.run_estimates.height, "flags": flags.height,
            "transitions": result.evaluation.transitions.height,
            "flagged": int(flags.get_column("status").is_in(["above", "likely_above"]).sum())}


def baseline(state: dict[str, Any]) -> dict[str, Any]:
    return baseline_query(state["inputs"], state["catalog"], state["regimes"], state["as_of"])


def baseline_query(inputs: Any, catalog: Any, regimes: list[Any], as_of: date) -> dict[str, Any]:
    runs, systems = inputs.runs, inputs.systems
    names = runs.get_column("accelerator").drop_nulls().unique().to_list()
    resolved = {n: catalog.try_resolve(n) for n in names}
    peaks = catalog.frame.select(
        pl.col("accelerator").alias("_canonical"),
        *[pl.col(f"{p}_flop_per_s").alias(f"_{p}") for p in ("bf16", "fp8", "fp16", "tf32", "fp32")],
    )
    active = [r for r in regimes if r.phase_on(as_of) != "inactive" and r.metric in _SYSTEM_METRICS]
    rules = pl.DataFrame({
        "regime_id": [r.id for r in active], "metric": [r.metric for r in active],
        "threshold": [r.threshold for r in active], "gte": [r.comparator == "gte" for r in active],
    }, schema={"regime_id": pl.String, "metric": pl.String, "threshold": pl.Float64, "gte": pl.Boolean})
    precision = pl.col("precision").str.to_lowercase().fill_null("bf16")
    peak = pl.coalesce(
        pl.when(precision == "fp8").then("_fp8"), pl.when(precision == "fp16").then("_fp16"),
        pl.when(precision == "tf32").then("_tf32"), pl.when(precision == "fp32").then("_fp32"),
        "_bf16", "_tf32", "_fp16", "_fp32",
    )
    chip_hours = pl.coalesce("chip_hours", pl.col("accelerator_count") * pl.col("training_hours"))
    hardware = chip_hours * 3600 * peak * pl.col("utilization").fill_null(0.3)
    architecture = 6 * pl.coalesce("active_parameters", "parameters") * pl.col("training_tokens")
    logs = [hardware.log(), architecture.log(), pl.col("reported_flop").log()]
    central = (pl.sum_horizontal([x.fill_null(0.0) for x in logs])
               / pl.sum_horizontal([x.is_not_null() for x in logs])).exp()
    done = pl.col("status") == "completed"
    per_system = (
        runs.lazy()
        .with_columns(_canonical=pl.col("accelerator").replace_strict(resolved, default=None, return_dtype=pl.String))
        .join(peaks.lazy(), on="_canonical", how="left")
        .with_columns(central=central)
        .group_by("system_key")
        .agg(own=pl.col("central").filter(done).sum(), largest=pl.col("central").filter(done).max())
    )
    per_system = systems.lazy().select("system_key", "base_system_key", "is_downstream_modifier").join(
        per_system, on="system_key", how="left")
    with_base = per_system.join(
        per_system.select(pl.col("system_key").alias("base_system_key"), pl.col("own").alias("base_own")),
        on="base_system_key", how="left",
    ).with_columns(cumulative=pl.col("own") + pl.col("base_own").fill_null(0.0))
    value = (
        pl.when(pl.col("metric") == "modification_flop").then("own")
        .when(pl.col("metric") == "modification_flop_ratio").then(pl.col("own") / pl.col("base_own"))
        .when(pl.col("metric") == "training_run_ops").then("largest")
        .otherwise("cumulative")
    )

    def past(x: pl.Expr) -> pl.Expr:
        return pl.when("gte").then(x >= pl.col("threshold")).otherwise(x > pl.col("threshold"))

    flags = (
        with_base.join(rules.lazy(), how="cross")
        .with_columns(value=value)
        .select(
            "system_key", "regime_id", "value",
            status=pl.when(pl.col("value").is_null()).then(pl.lit("unknown"))
            .when(past(pl.col("value") / 2)).then(pl.lit("above"))
            .when(past(pl.col("value"))).then(pl.lit("likely_above"))
            .when(past(pl.col("value") * 2)).then(pl.lit("likely_below"))
            .otherwise(pl.lit("below")),
        )
        .collect()
    )
    return {"flags": flags.height,
            "flagged": int(flags.get_column("status").is_in(["above", "likely_above"]).sum())}


def run(scales: list[int], log: Any = print) -> dict[str, Any]:
    runs = []
    for scale in scales:
        size = BASE_SIZE * scale
        log(f"{NAME}: x{scale} = {size:,} systems")
        ctx = prepare(size)
        runs.append(common.compare_runs(MODULE, ctx, REPETITIONS[scale], size=size, scale=scale, log=log))
    common.clean_work_dir(NAME)
    largest = runs[-1]
    meets = largest["ratio"] is not None and largest["ratio"] <= TARGET_RATIO
    shape = common.growth(runs)
    notes = (f"size = systems (x1 = {BASE_SIZE:,}); ~1.3 runs, 0.3 usage rows and 0.01 clusters per system; "
             "each repetition in a fresh process; repetitions per size: "
             + ", ".join(f"x{s}: {REPETITIONS[s]}" for s in scales)
             + ". meets_target is judged at the largest size run; growth_per_system is seconds per system "
               "relative to x1 (1.0 = linear).")
    common.write_result(NAME, runs, TARGET_RATIO, meets, target="ratio <= 1.5 at 1,000,000 systems; linear growth",
                        growth_per_system=shape, baseline_growth_per_system=common.growth(
                            runs, "baseline_seconds_median"), notes=notes)
    return {"name": NAME, "runs": runs, "meets_target": meets}
