"""The evaluate benchmark's baseline computes the engine's numbers: for every (subject, regime)
pair of the regimes it covers, the same pairs, the same central value (to 1e-9) and the same
comparison with the threshold as ``compute_registry``, on generated data and on a hand-built
registry that exercises each rule (deep lineage, fallbacks, MoE, synthetic data, planned runs,
downstream modifiers). No timing assertions."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
import pytest

from bench import generate
from bench.evaluate import baseline_frame, baseline_query
from tracker.catalog.accelerators import Catalog, load_catalog
from tracker.regimes.load import load_regimes, parse_regimes
from tracker.regimes.model import Regime
from tracker.registry.compute import RegistryResult, compute_registry
from tracker.registry.inputs import CLUSTER_SCHEMA, FLAG_SCHEMA, RUN_SCHEMA, SYSTEM_SCHEMA, USAGE_SCHEMA, RegistryInputs

COVERED_METRICS = {"training_flop_cumulative", "training_flop_param_updates", "modification_flop",
                   "modification_flop_ratio", "training_run_ops", "relative_to_largest_run", "cluster_peak_ops_per_s"}
RTOL = 1e-9


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def _same_value(a: str, b: str) -> pl.Expr:
    """Both null, or both set and equal to RTOL."""
    x, y = pl.col(a), pl.col(b)
    close = (x - y).abs() <= RTOL * y.abs()
    return pl.when(x.is_null() | y.is_null()).then(x.is_null() & y.is_null()).otherwise(close.fill_null(False))


def _past(value: str) -> pl.Expr:
    v, threshold = pl.col(value), pl.col("threshold")
    return pl.when(pl.col("comparator") == "gte").then(v >= threshold).otherwise(v > threshold)


def assert_baseline_is_the_engine(inputs: RegistryInputs, catalog: Catalog, regimes: list[Regime],
                                  as_of: date) -> tuple[RegistryResult, pl.DataFrame]:
    result = compute_registry(inputs, catalog, regimes, as_of)
    base = baseline_frame(inputs, catalog, regimes, as_of)
    assert base.schema == pl.Schema({"subject_key": pl.String, "regime_id": pl.String, "value_central": pl.Float64,
                                     "past": pl.Boolean})
    assert base.select("subject_key", "regime_id").is_unique().all()
    covered = [r for r in regimes if r.phase_on(as_of) != "inactive" and r.effective_metric in COVERED_METRICS]
    flags = result.evaluation.flags.filter(pl.col("regime_id").is_in([r.id for r in covered])).select(
        "subject_key", *[pl.col(c).cast(pl.String) for c in ("regime_id", "metric", "comparator")],
        "threshold", "projected", pl.col("value_central").alias("engine_value"))

    # 1. The same (subject, regime) pairs.
    keys = ["subject_key", "regime_id"]
    assert set(base.select(keys).iter_rows()) == set(flags.select(keys).iter_rows())
    joined = flags.join(base, on=keys, how="inner")
    assert joined.height == flags.height == base.height

    # 2. Current compute: the engine's value and its comparison with the threshold.
    current = joined.filter(~pl.col("projected")).with_columns(
        same=_same_value("value_central", "engine_value"), expected_past=_past("engine_value"))
    assert current.filter(~pl.col("same")).is_empty(), current.filter(~pl.col("same")).head(5)
    wrong = current.filter(pl.col("past").ne_missing(pl.col("expected_past")))
    assert wrong.is_empty(), wrong.head(5)

    # 3. Projected flags hold planned compute; the baseline's value is the current one, which the
    # engine gives per system (divided by the reference for a share of the largest run).
    largest = result.systems.get_column("training_flop_central").max()
    references = {r.id: r.reference_flop or largest for r in covered if r.effective_metric == "relative_to_largest_run"}
    projected = joined.filter(pl.col("projected")).join(
        result.systems.select(pl.col("system_key").alias("subject_key"), "training_flop_central"), on="subject_key",
        how="left",
    ).with_columns(
        current=pl.col("training_flop_central")
        / pl.col("regime_id").replace_strict(references, default=1.0, return_dtype=pl.Float64),
    ).with_columns(same=_same_value("value_central", "current"), expected_past=_past("current"))
    assert set(projected.get_column("metric").unique()) <= {"training_flop_cumulative", "relative_to_largest_run"}
    assert projected.filter(~pl.col("same") | pl.col("past").ne_missing(pl.col("expected_past"))).is_empty()

    # 4. Cumulative compute over the whole lineage, for every system.
    everyone = next(r.id for r in covered if r.effective_metric == "training_flop_cumulative" and r.applies_to == "all")
    cumulative = result.systems.select("system_key", "training_flop_central").join(
        base.filter(pl.col("regime_id") == everyone).select(pl.col("subject_key").alias("system_key"), "value_central"),
        on="system_key", how="left",
    ).with_columns(same=_same_value("value_central", "training_flop_central"))
    assert cumulative.height == result.systems.height
    assert cumulative.get_column("same").all()

    counts = baseline_query(inputs, catalog, regimes, as_of)
    assert counts == {"flags": base.height, "flagged": int(base.get_column("past").sum())}
    return result, base


def test_baseline_matches_the_engine_on_generated_registry(catalog: Catalog) -> None:
    inputs = RegistryInputs(**generate.registry_frames(20_000))
    result, base = assert_baseline_is_the_engine(inputs, catalog, load_regimes(), generate.AS_OF)
    # The data exercises what the test claims: chains of fine-tunes, every metric, both outcomes.
    assert result.systems.get_column("lineage_depth").max() >= 3  # type: ignore[operator]
    metrics = {r.id: r.effective_metric for r in load_regimes()}
    compared = {metrics[i] for i in base.get_column("regime_id").unique()}
    assert compared >= {"training_flop_cumulative", "training_flop_param_updates", "modification_flop_ratio",
                        "training_run_ops", "cluster_peak_ops_per_s"}
    assert base.get_column("past").sum() > 0 and (~base.get_column("past")).sum() > 0


# --- a hand-built registry ----------------------------------------------------------------------

RUN_COLUMNS = [*RUN_SCHEMA, "is_language_model", "layers", "d_model", "context_tokens"]
RUN_TYPES = {**RUN_SCHEMA, "is_language_model": pl.Boolean, "layers": pl.Float64, "d_model": pl.Float64,
             "context_tokens": pl.Float64}
PAST, LATER = date(2025, 3, 1), date(2027, 3, 1)


def _run(run_key: str, system_key: str, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(RUN_COLUMNS)
    row.update(run_key=run_key, system_key=system_key, stage="fine_tuning", status="completed",
               start_date=date(2025, 1, 1), end_date=PAST)
    row.update(fields)
    return row


def _system(key: str, base: str | None, provider: int, modifier: bool) -> dict[str, Any]:
    return {"system_key": key, "base_system_key": base, "provider_id": provider, "provider": f"p{provider}",
            "name": f"model-{key}", "version": "", "is_downstream_modifier": modifier}


def hand_built_inputs() -> RegistryInputs:
    systems = [
        _system("1", None, 1, False),  # A: pretrained
        _system("2", "1", 1, False),  # B: A fine-tuned by its provider
        _system("3", None, 2, True),  # C: B modified by another provider (base declared by the run)
        _system("4", "99", 3, True),  # D: modifier of a system not in the registry (base unknown)
        _system("5", None, 1, False),  # E: no runs
        _system("6", None, 1, False),  # F: synthetic data only, a large run planned
        _system("7", None, 4, False),  # G: a reported figure of exactly 1e25
        _system("8", "7", 5, True),  # H: modifier of G whose run has no estimate
    ]
    runs = [
        # A: all three methods (filed bf16, filed utilization, 6ND + attention, reported).
        _run("11", "1", stage="pretraining", accelerator="H100", accelerator_count=16_384.0, training_hours=1_000.0,
             precision="bf16", utilization=0.38, parameters=4e11, training_tokens=1.5e13, reported_flop=3.8e25,
             layers=126.0, d_model=16_384.0, context_tokens=8_192.0),
        # A: precision and utilization not filed (status null = completed), chip-hours filed.
        _run("12", "1", stage="post_training", status=None, accelerator="NVIDIA H100 SXM5", chip_hours=2e5,
             parameters=4e11, training_tokens=1e11),
        # B: precision not filed on a V100 (no bf16/tf32: fp16, slower fp32); not a language model.
        _run("13", "2", accelerator="V100", accelerator_count=512.0, training_hours=200.0, parameters=7e9,
             training_tokens=2e11, is_language_model=False),
        # B: bf16 filed on a V100: fallback to fp16, hardware and reported.
        _run("14", "2", accelerator="V100", chip_hours=5e4, precision="BF16", utilization=0.3, reported_flop=1e21),
        # C: mixture of experts, fp8 filed on an A100 (fallback), utilization prior widened.
        _run("15", "3", base_system_key="2", accelerator="A100", accelerator_count=1_024.0, training_hours=300.0,
             precision="fp8", parameters=1.4e11, active_parameters=2.2e10, training_tokens=4e12),
        # C: synthetic data generation: counts in cumulative, not parameter-updating compute.
        _run("16", "3", base_system_key="2", stage="synthetic_data", accelerator="H100", chip_hours=1e5,
             precision="fp8", utilization=0.35),
        # D: a large modification of an unknown base.
        _run("17", "4", accelerator="Google TPU v5p", chip_hours=3e6, precision="bf16", parameters=7e10,
             training_tokens=1e13),
        # F: synthetic data only, and a planned pretraining run far past 1e25.
        _run("18", "6", stage="synthetic_data", accelerator="AMD Instinct MI300X", chip_hours=1e4),
        _run("19", "6", stage="pretraining", status="planned", accelerator="NVIDIA B200", accelerator_count=1e5,
             training_hours=2_000.0, precision="bf16", parameters=1e12, training_tokens=3e13,
             start_date=date(2026, 10, 1), end_date=LATER),
        # G: a reported figure only, exactly at 1e25.
        _run("20", "7", stage="pretraining", reported_flop=1e25),
        # H: a completed run with nothing to estimate from.
        _run("21", "8", accelerator="Mystery Chip 9000", chip_hours=1e5),
    ]
    clusters = pl.DataFrame(
        {"cluster_key": ["cluster:1", "cluster:2"], "provider": ["p1", "p2"], "provider_id": [1, 2],
         "accelerator": ["H100", "Mystery Chip 9000"], "accelerator_count": [100_000.0, 1_000.0]},
        schema=CLUSTER_SCHEMA)
    return RegistryInputs(
        systems=pl.DataFrame(systems, schema=SYSTEM_SCHEMA),
        runs=pl.DataFrame(runs, schema=RUN_TYPES).select(RUN_COLUMNS),
        usage=pl.DataFrame(schema=USAGE_SCHEMA), clusters=clusters, previous_flags=pl.DataFrame(schema=FLAG_SCHEMA))


def _custom(regime_id: str, metric: str, comparator: str, threshold: float, **fields: Any) -> dict[str, Any]:
    return {"id": regime_id, "jurisdiction": "XX", "instrument": "test notice", "status": {"state": "in_force"},
            "subject": "AI system", "obligation": "notify", "metric": metric, "comparator": comparator,
            "threshold": threshold, **fields}


def hand_built_regimes() -> list[Regime]:
    return [*load_regimes(), *parse_regimes([
        _custom("xx-at-1e25", "training_flop_cumulative", "gte", 1e25),
        _custom("xx-modifier-cumulative", "training_flop_cumulative", "gt", 1e24, applies_to="downstream_modifiers"),
        _custom("xx-share-of-largest", "relative_to_largest_run", "gte", 0.5),
        _custom("xx-share-of-reference", "relative_to_largest_run", "gt", 0.01, reference_flop=1e26),
    ])]


def test_baseline_matches_the_engine_on_a_hand_built_registry(catalog: Catalog) -> None:
    result, base = assert_baseline_is_the_engine(hand_built_inputs(), catalog, hand_built_regimes(), generate.AS_OF)
    runs = result.run_estimates.select("run_key", "methods", "precision_used").rows_by_key("run_key", named=True)
    assert runs["11"][0]["methods"] == ["architecture", "hardware", "reported"]
    assert runs["13"][0]["precision_used"] == "fp16" and runs["14"][0]["precision_used"] == "fp16"
    assert runs["15"][0]["precision_used"] == "bf16"
    systems = result.systems.rows_by_key("system_key", named=True)
    assert systems["3"][0]["lineage_depth"] == 2
    assert systems["3"][0]["param_update_flop_central"] < systems["3"][0]["training_flop_central"]
    assert systems["6"][0]["param_update_flop_central"] is None

    value = {(k, r): (v, p) for k, r, v, p in base.iter_rows()}
    assert value[("7", "xx-at-1e25")] == (1e25, True)  # gte at the threshold: past
    assert value[("7", "eu-aia-gpaisr-presumption")] == (1e25, False)  # gt at the threshold: not past
    assert value[("5", "us-ca-sb53-frontier-model")] == (None, None)  # no runs: unknown
    assert value[("8", "eu-gl-modifier-relative")] == (None, None)  # own compute unknown, base known
    assert ("4", "eu-gl-modifier-fallback-systemic") in value  # base unknown
    assert ("4", "eu-gl-modifier-relative") not in value
    assert value[("cluster:2", "us-bis-nprm-cluster")] == (None, None)
    flags = result.evaluation.flags
    assert flags.filter((pl.col("subject_key") == "6") & pl.col("projected")).height > 0
