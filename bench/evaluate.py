"""evaluate: re-estimate and evaluate N systems against every regime (``compute_registry``).

Ours is the registry's pure glue end to end: accelerator names resolved, every run estimated by
every method and reconciled, systems accumulated over their lineage, inference estimated,
clusters sized, and every subject evaluated against every regime active on the date that the tracker
can assess (flags; no previous flags, i.e. a first evaluation: one "first evaluated" row per subject,
no transitions).

The baseline (``baseline_frame``) is a hand-written polars query over the same frames that gives
the engine's central estimates and their threshold comparisons, and nothing else. Per run: the
hardware figure (chip-hours x 3600 x the catalog's dense peak of the filed format after the
fallback chain, or of bf16 -> tf32 -> fp16 -> fp32 when none is filed, x the filed utilization
or the 0.30/0.40 prior), the architecture figure ((6 x N_active + the attention term where
layers, width and context are filed) x tokens) and the reported figure, reconciled as the engine
does: one method keeps its central, two or three take the log-space mean weighted by 1/sigma^2.
The interval widths are computed only as far as those weights need them (sigma = the 90% log
width / 3.29, from the same input, utilization, format, MoE and attention factors); no bounds
are output. Per system: completed runs summed (null, not 0, without any), parameter updates
without synthetic-data runs, the largest run, then both sums accumulated over every ancestor
(one gather per generation, on integer row positions). Then, for each active regime whose metric
the tracker computes (cumulative and parameter-update compute, modification compute and its
ratio to the base's cumulative compute, the largest run, share of the largest system, cluster
peak), one row per (subject, regime) pair its ``applies_to`` covers: the central value and
whether it is past the threshold. Left out: low/high bounds and the status they give, notes,
methods, confidence, discrepancies, projection of planned runs, deadlines and dates, history
and transitions, inference, and the ``unknown`` rows of metrics the tracker holds no data for.
"""

from __future__ import annotations

import math
from datetime import date
from typing import Any

import polars as pl

from bench import common, generate
from tracker.catalog import FALLBACK_ORDER, PEAK_COLUMNS, PRECISIONS, fallback_chain
from tracker.estimate.priors import (
    ARCHITECTURE_FACTOR_HIGH,
    ARCHITECTURE_FACTOR_LOW,
    ARCHITECTURE_FACTOR_WITH_ATTENTION,
    ARCHITECTURE_MOE_FACTOR,
    ATTENTION_FLOP_COEFFICIENT_TRAINING,
    FLOP_PER_PARAM_TOKEN_TRAINING,
    HARDWARE_INPUT_FACTOR,
    PRECISION_UNKNOWN_FACTOR,
    REPORTED_FACTOR,
    SECONDS_PER_HOUR,
    UTILIZATION_FILED_FACTOR,
    UTILIZATION_PRIOR_HIGH,
    UTILIZATION_PRIOR_LM,
    UTILIZATION_PRIOR_LOW,
    UTILIZATION_PRIOR_LOW_MOE,
    UTILIZATION_PRIOR_OTHER,
    Z90,
)

NAME = "evaluate"
BASE_SIZE = 10_000  # systems at x1; x100 = 1,000,000 (the scale)
TARGET_RATIO = 2.0
PEAK_LIMIT_MB = 2048
REPETITIONS = {1: 5, 10: 5, 100: 3}
MODULE = "bench.evaluate"
# Metrics the baseline compares: those the tracker computes from training runs and clusters.
_BASELINE_METRICS = frozenset({"training_flop_cumulative", "training_flop_param_updates", "modification_flop",
                               "modification_flop_ratio", "training_run_ops", "relative_to_largest_run",
                               "cluster_peak_ops_per_s"})
BASELINE_SCHEMA = {"subject_key": pl.String, "regime_id": pl.String, "value_central": pl.Float64,
                   "past": pl.Boolean}
_MIN_SIGMA = 1e-6  # reconcile: weights are 1 / max(sigma, 1e-6)^2


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
            "first_evaluated": result.evaluation.first_evaluated.height,
            "flagged": int(flags.get_column("status").is_in(["above", "likely_above"]).sum())}


def baseline(state: dict[str, Any]) -> dict[str, Any]:
    return baseline_query(state["inputs"], state["catalog"], state["regimes"], state["as_of"])


def baseline_query(inputs: Any, catalog: Any, regimes: list[Any], as_of: date) -> dict[str, Any]:
    frame = baseline_frame(inputs, catalog, regimes, as_of)
    return {"flags": frame.height, "flagged": int(frame.get_column("past").sum())}


# --- the baseline: central estimates and threshold comparisons, by hand ---------------------

_LN2, _Z2 = math.log(PRECISION_UNKNOWN_FACTOR), 2 * Z90
_LN_INPUT, _LN_FILED_U = math.log(HARDWARE_INPUT_FACTOR), math.log(UTILIZATION_FILED_FACTOR)
_FASTEST_OF = ("bf16", "tf32", "fp16", "fp8", "fp32")


def _weight(log_low: float, log_high: float) -> float:
    """1/sigma^2 of a method whose 90% interval is [c/e^log_low, c*e^log_high]."""
    return max((log_low + log_high) / _Z2, _MIN_SIGMA) ** -2


def _quadrature(*parts: float) -> float:
    return math.sqrt(sum(p * p for p in parts))


_W_REPORTED = _weight(math.log(REPORTED_FACTOR), math.log(REPORTED_FACTOR))


def _pair_table(runs: pl.DataFrame, catalog: Any) -> pl.DataFrame:
    """Per distinct (accelerator as filed, precision as filed): the catalog peak after the format
    fallback, and the precision's log half-widths below and above (a few hundred pairs at most)."""
    pairs = runs.select("accelerator", "precision").unique().with_columns(
        _filed=pl.col("precision").str.to_lowercase())
    peaks_of = {row[0]: dict(zip(PRECISIONS, row[1:], strict=True)) for row in catalog.frame.select(
        "accelerator", *[PEAK_COLUMNS[p] for p in PRECISIONS]).iter_rows()}
    peak_col, low_col, high_col = [], [], []
    for name, _precision, filed in pairs.iter_rows():
        peaks = peaks_of.get(catalog.try_resolve(name) if name else None, {})
        if filed is None:  # not filed: bf16 -> tf32 -> fp16 -> fp32, widened to the next slower and the fastest
            found = [(p, peaks[p]) for p in FALLBACK_ORDER if peaks.get(p) is not None]
            peak = found[0][1] if found else None
            slower = found[1][1] if len(found) > 1 else None
            low = high = _LN2
            if peak is not None:
                fastest = max(v for p in _FASTEST_OF if (v := peaks.get(p)) is not None)
                low = max(math.log(peak / slower) if slower is not None else 0.0, _LN2)
                high = max(math.log(fastest / peak), _LN2)
        else:  # filed: the requested format, else its fallback chain (x0.5-2 when a fallback was used)
            chain = fallback_chain(filed) if filed in PRECISIONS else ()
            used = next((p for p in chain if peaks.get(p) is not None), None)
            peak = peaks[used] if used is not None else None
            low = high = _LN2 if used is not None and used != filed else 0.0
        peak_col.append(peak)
        low_col.append(low)
        high_col.append(high)
    return pairs.select("accelerator", "precision").with_columns(
        pl.Series("_peak", peak_col, pl.Float64), pl.Series("_prec_low", low_col, pl.Float64),
        pl.Series("_prec_high", high_col, pl.Float64))


def _run_centrals(runs: pl.DataFrame, catalog: Any) -> pl.LazyFrame:
    """Per run: each method's central estimate and inverse-variance weight, reconciled."""
    c = pl.col
    moe = (c("active_parameters") < c("parameters")).fill_null(False)
    # Hardware: chip-seconds x peak x utilization (filed, else the prior).
    chip_hours = pl.coalesce(
        pl.when(c("chip_hours") > 0).then(c("chip_hours")),
        pl.when((c("accelerator_count") > 0) & (c("training_hours") > 0))
        .then(c("accelerator_count") * c("training_hours")),
    )
    filed_u = pl.when((c("utilization") > 0) & (c("utilization") <= 1)).then(c("utilization"))
    prior: pl.Expr = pl.lit(UTILIZATION_PRIOR_LM)
    if "is_language_model" in runs.columns:
        prior = pl.when(c("is_language_model").cast(pl.Boolean).fill_null(True)).then(
            UTILIZATION_PRIOR_LM).otherwise(UTILIZATION_PRIOR_OTHER)
    prior_low = pl.when(moe).then(UTILIZATION_PRIOR_LOW_MOE).otherwise(UTILIZATION_PRIOR_LOW)
    util_low = pl.when(filed_u.is_null()).then((prior / prior_low).log().clip(lower_bound=0.0)).otherwise(_LN_FILED_U)
    util_high = pl.when(filed_u.is_null()).then((UTILIZATION_PRIOR_HIGH / prior).log().clip(lower_bound=0.0)
                                                ).otherwise(_LN_FILED_U)
    hw_sigma = ((_LN_INPUT ** 2 + util_low.pow(2) + c("_prec_low").pow(2)).sqrt()
                + (_LN_INPUT ** 2 + util_high.pow(2) + c("_prec_high").pow(2)).sqrt()) / _Z2
    hardware = chip_hours * SECONDS_PER_HOUR * c("_peak") * pl.coalesce(filed_u, prior)
    # Architecture: (6 N_active + attention) x D.
    n_active = pl.coalesce(pl.when(c("active_parameters") > 0).then(c("active_parameters")),
                           pl.when(c("parameters") > 0).then(c("parameters")))
    per_token = FLOP_PER_PARAM_TOKEN_TRAINING * n_active
    ln_moe = math.log(ARCHITECTURE_MOE_FACTOR)
    low_a, high_a = math.log(ARCHITECTURE_FACTOR_LOW), math.log(ARCHITECTURE_FACTOR_HIGH)
    arch_weight = pl.when(moe).then(_weight(_quadrature(low_a, ln_moe), _quadrature(high_a, ln_moe))
                                    ).otherwise(_weight(low_a, high_a))
    if {"layers", "d_model", "context_tokens"} <= set(runs.columns):
        attention = (ATTENTION_FLOP_COEFFICIENT_TRAINING * c("layers").cast(pl.Float64)
                     * c("d_model").cast(pl.Float64) * c("context_tokens").cast(pl.Float64))
        per_token = per_token + attention.fill_null(0.0)
        ln_att = math.log(ARCHITECTURE_FACTOR_WITH_ATTENTION)
        arch_weight = pl.when(attention.is_null()).then(arch_weight).when(moe).then(
            _weight(_quadrature(ln_att, ln_moe), _quadrature(ln_att, ln_moe))).otherwise(_weight(ln_att, ln_att))
    architecture = per_token * pl.when(c("training_tokens") > 0).then(c("training_tokens"))
    # Reported: the provider's figure.
    reported = pl.when(c("reported_flop") > 0).then(c("reported_flop"))
    methods = (("_a", architecture, arch_weight), ("_h", hardware, hw_sigma.clip(lower_bound=_MIN_SIGMA).pow(-2)),
               ("_r", reported, pl.lit(_W_REPORTED)))
    ok = {name: (c(name) > 0).fill_null(False) for name, _, _ in methods}
    weights = [pl.when(ok[name]).then(c(f"{name}w")).otherwise(0.0) for name, _, _ in methods]
    n = pl.sum_horizontal([ok[name].cast(pl.Int8) for name, _, _ in methods])
    mean_log = pl.sum_horizontal(
        [pl.when(ok[name]).then(c(name).log() * w).otherwise(0.0) for (name, _, _), w in zip(methods, weights,
                                                                                             strict=True)]
    ) / pl.sum_horizontal(weights)
    central = (pl.when(n == 1).then(pl.coalesce([pl.when(ok[name]).then(c(name)) for name, _, _ in methods]))
               .when(n > 1).then(mean_log.exp()))
    return (
        runs.lazy()
        .join(_pair_table(runs, catalog).lazy(), on=["accelerator", "precision"], how="left", nulls_equal=True)
        .select("system_key", "status", "stage",
                *[e.alias(name) for name, e, _ in methods], *[w.alias(f"{name}w") for name, _, w in methods])
        .select("system_key", "status", "stage", central.alias("central"))
    )


def _sum_or_null(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    return pl.when(a.is_null() & b.is_null()).then(None).otherwise(a.fill_null(0.0) + b.fill_null(0.0))


def _over_lineage(parent: pl.Series, own: pl.DataFrame) -> pl.DataFrame:
    """Each column of ``own`` summed over the row and all its ancestors (``parent``: row of the base,
    null at a root); null parts count as 0, all-null stays null. One gather per generation, over
    the rows that still have an ancestor."""
    columns = own.columns
    climbing = own.with_columns(_row=pl.int_range(pl.len(), dtype=pl.UInt32), _anc=parent).filter(
        pl.col("_anc").is_not_null())
    own_lit = {name: pl.lit(own.get_column(name)) for name in columns}
    parent_lit = pl.lit(parent)
    finished = []
    for _ in range(own.height + 1):
        if climbing.height == 0:
            break
        climbing = climbing.with_columns(
            *[_sum_or_null(pl.col(name), own_lit[name].gather(pl.col("_anc"))).alias(name) for name in columns],
            parent_lit.gather(pl.col("_anc")).alias("_anc"),
        )
        top = climbing.get_column("_anc").is_null()
        finished.append(climbing.filter(top))
        climbing = climbing.filter(~top)
    else:
        raise ValueError("lineage cycle among the systems' base_system_key links")
    done = pl.concat(finished) if finished else climbing
    rows = done.get_column("_row")
    return own.with_columns(own.get_column(name).scatter(rows, done.get_column(name)) for name in columns)


def baseline_frame(inputs: Any, catalog: Any, regimes: list[Any], as_of: date) -> pl.DataFrame:
    """One row per (subject, regime) pair that applies: subject_key, regime_id, value_central, past."""
    active = [r for r in regimes if r.phase_on(as_of) != "inactive" and r.effective_metric in _BASELINE_METRICS]
    runs, systems = inputs.runs, inputs.systems
    # Own compute per system: completed runs (status null or "completed"); parameter updates
    # leave out synthetic-data generation; null, not 0, when no completed run has an estimate.
    update = (pl.col("stage") != "synthetic_data").fill_null(True)
    own = (
        _run_centrals(runs, catalog)
        .filter((pl.col("status").fill_null("completed") == "completed") & pl.col("central").is_not_null())
        .with_columns(_update=pl.when(update).then(pl.col("central")))
        .group_by("system_key")
        .agg(own=pl.col("central").sum(), largest=pl.col("central").max(), updates=pl.col("_update").sum(),
             _n_updates=pl.col("_update").count())
        .select("system_key", "own", "largest", pl.when(pl.col("_n_updates") > 0).then(pl.col("updates"))
                .alias("own_updates"))
    )
    # Lineage: the record's base, else the base its newest run (greatest run_key) declares.
    nodes = systems.select("system_key", "base_system_key",
                           pl.col("is_downstream_modifier").fill_null(False).alias("modifier"))
    declared = runs.filter(pl.col("base_system_key").is_not_null())
    if declared.height:
        # Run keys are row ids as text: newest by number when every key is one, else by text.
        numeric = runs.get_column("run_key").cast(pl.Int64, strict=False).null_count() == runs.get_column(
            "run_key").null_count()
        order = pl.col("run_key").cast(pl.Int64) if numeric else pl.col("run_key")
        run_base = declared.group_by("system_key").agg(
            pl.col("base_system_key").get(order.arg_max()).alias("_run_base"))
        nodes = nodes.join(run_base, on="system_key", how="left", maintain_order="left").select(
            "system_key", pl.coalesce("base_system_key", "_run_base").alias("base_system_key"), "modifier")
    nodes = nodes.lazy().join(own, on="system_key", how="left", maintain_order="left").collect()
    parent = nodes.select("base_system_key").join(
        nodes.select(pl.col("system_key").alias("base_system_key"), pl.int_range(pl.len(), dtype=pl.UInt32)
                     .alias("_parent")), on="base_system_key", how="left", maintain_order="left",
    ).get_column("_parent")
    cumulative = _over_lineage(
        parent, nodes.select(pl.col("own").alias("cumulative"), pl.col("own_updates").alias("updates")))
    values = pl.concat([nodes, cumulative], how="horizontal").with_columns(
        base_cumulative=cumulative.get_column("cumulative").gather(parent))
    largest_system = values.get_column("cumulative").max()

    c = pl.col
    applies = {"all": pl.lit(True), "original_providers": ~c("modifier"), "downstream_modifiers": c("modifier"),
               "downstream_modifiers_base_known": c("modifier") & c("base_cumulative").is_not_null(),
               "downstream_modifiers_base_unknown": c("modifier") & c("base_cumulative").is_null()}
    clusters = _cluster_peaks(inputs.clusters, catalog)
    parts = []
    for regime in active:
        metric = regime.effective_metric
        threshold, gte = regime.effective_threshold, regime.effective_comparator == "gte"
        if metric == "cluster_peak_ops_per_s":
            frame, key, value = clusters, "cluster_key", c("peak")
        else:
            frame, key = values.lazy().filter(applies[regime.applies_to]), "system_key"
            reference = regime.reference_flop if regime.reference_flop is not None else largest_system
            value = {"training_flop_cumulative": c("cumulative"), "training_flop_param_updates": c("updates"),
                     "training_run_ops": c("largest"), "modification_flop": c("own"),
                     "modification_flop_ratio": c("own") / c("base_cumulative"),
                     "relative_to_largest_run": c("cumulative") / pl.lit(reference, pl.Float64)}[metric]
        parts.append(frame.select(
            c(key).alias("subject_key"), pl.lit(regime.id, pl.String).alias("regime_id"),
            value.alias("value_central"), (value >= threshold if gte else value > threshold).alias("past")))
    if not parts:
        return pl.DataFrame(schema=BASELINE_SCHEMA)
    return pl.concat(parts).collect()


def _cluster_peaks(clusters: pl.DataFrame, catalog: Any) -> pl.LazyFrame:
    """Per cluster: chips x the chip's largest dense peak over every format (integer ones too)."""
    names = clusters.get_column("accelerator").drop_nulls().unique().to_list()
    resolved = {name: catalog.try_resolve(name) for name in names}
    peaks = catalog.frame.select(pl.col("accelerator").alias("_canonical"), *[PEAK_COLUMNS[p] for p in PRECISIONS])
    count = pl.col("accelerator_count").cast(pl.Float64)
    return (
        clusters.lazy()
        .with_columns(_canonical=pl.col("accelerator").replace_strict(resolved, default=None, return_dtype=pl.String))
        .join(peaks.lazy(), on="_canonical", how="left")
        .select("cluster_key", pl.max_horizontal([count * pl.col(PEAK_COLUMNS[p]) for p in PRECISIONS]).alias("peak"))
    )


def run(scales: list[int], log: Any = print) -> dict[str, Any]:
    runs = []
    for scale in scales:
        size = BASE_SIZE * scale
        log(f"{NAME}: x{scale} = {size:,} systems")
        ctx = prepare(size)
        runs.append(common.compare_runs(MODULE, ctx, REPETITIONS[scale], size=size, scale=scale, log=log))
    common.clean_work_dir(NAME)
    largest = runs[-1]
    meets = (largest["ratio"] is not None and largest["ratio"] <= TARGET_RATIO
             and largest["peak_rss_mb"] < PEAK_LIMIT_MB)
    shape = common.growth(runs)
    notes = (f"size = systems (x1 = {BASE_SIZE:,}); ~1.3 runs, 0.3 usage rows and 0.01 clusters per system; "
             "baseline = baseline_frame: the engine's exact central estimates and applicable threshold "
             "comparisons (asserted equal by tests/bench/test_evaluate_baseline.py), no bounds, notes, "
             "unknown rows, deadlines or history; "
             "each repetition in a fresh process; repetitions per size: "
             + ", ".join(f"x{s}: {REPETITIONS[s]}" for s in scales)
             + ". meets_target is judged at the largest size run; growth_per_system is seconds per system "
               "relative to x1 (1.0 = linear).")
    common.write_result(NAME, runs, TARGET_RATIO, meets,
                        target="ratio <= 2.0 and peak < 2 GB at 1,000,000 systems; linear growth",
                        growth_per_system=shape, baseline_growth_per_system=common.growth(
                            runs, "baseline_seconds_median"), notes=notes)
    return {"name": NAME, "runs": runs, "meets_target": meets}
