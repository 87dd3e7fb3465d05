"""Accuracy benchmark: our estimates against Epoch AI's "All AI Models" table.

Each usable row becomes the disclosure a provider would file (hardware, parameters, tokens,
precision, MFU, a reported figure where Epoch says the figure was reported, lineage from
`Base model` where that model is in the table); we estimate it with the production entry
points and compare with Epoch's `Training compute (FLOP)` (cumulative, base included).

Usage: python bench/accuracy.py [--path all_ai_models.csv] [--out bench/results/accuracy.json]
Data: Epoch AI, 'Data on AI Models', epoch.ai/data (CC BY 4.0).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tracker.catalog import load_catalog  # noqa: E402
from tracker.estimate import LineageCycleError, estimate_runs, estimate_systems  # noqa: E402
from tracker.estimate.lineage import check_cycles  # noqa: E402

DEFAULT_PATH = ROOT.parent / "shared" / "data" / "epoch" / "all_ai_models.csv"
FALLBACK_PATH = Path("/work/shared/data/epoch/all_ai_models.csv")
AS_OF = date(2026, 3, 30)  # the snapshot date of the table
THRESHOLDS = (1e23, 1e25, 1e26)
TARGETS = {
    "architecture_within_30pct_language_operation_counting": 0.75,
    "overall_within_2x": 0.80,
    "overall_within_30pct": 0.60,
    "overall_interval_coverage": 0.80,
    "confident_interval_coverage": 0.85,
    "rows_below_threshold_with_epoch_at_least_2x": 0,
}
# "671B total, 37B active", "(9B active)", "32 billion active parameters".
ACTIVE_RE = r"(?i)(\d+(?:\.\d+)?)\s*(b|billion|m|million)\b[^,;()]{0,24}?\bactiv"
# The "<total>B-A<active>B" naming convention (Qwen3-30B-A3B), in the notes or the model name.
ACTIVE_NAME_RE = r"\d[\d.]*B-A(\d+(?:\.\d+)?)B\b"


def _num(name: str) -> pl.Expr:
    return pl.col(name).str.replace_all(",", "").str.strip_chars().cast(pl.Float64, strict=False)


def _active_parameters() -> pl.Expr:
    """Active parameters where Epoch's notes state them (what an MoE provider files)."""
    number = pl.col("Parameters notes").str.extract(ACTIVE_RE, 1).cast(pl.Float64, strict=False)
    unit = pl.col("Parameters notes").str.extract(ACTIVE_RE, 2).str.to_lowercase()
    scale = pl.when(unit.str.starts_with("m")).then(1e6).otherwise(1e9)
    from_name = pl.coalesce(
        pl.col("Parameters notes").str.extract(ACTIVE_NAME_RE, 1),
        pl.col("Model").str.extract(ACTIVE_NAME_RE, 1),
    ).cast(pl.Float64, strict=False)
    value = pl.coalesce(number * scale, from_name * 1e9)
    return pl.when(value < _num("Parameters")).then(value).alias("active_parameters")


def load_rows(path: Path) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema=False)
    frame = (
        raw.with_columns(
            _num("Training compute (FLOP)").alias("epoch_flop"),
            pl.col("Model").str.strip_chars(),
            pl.col("Base model").str.strip_chars(),
        )
        .filter(pl.col("epoch_flop") > 0)
        .unique("Model", keep="first", maintain_order=True)
    )
    return frame


def to_disclosures(rows: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """runs (contract columns) and systems frames, plus bookkeeping columns on runs."""
    catalog = load_catalog()
    models = rows.get_column("Model")
    first_hw = pl.col("Training hardware").str.split(",").list.first().str.strip_chars()
    method = pl.col("Training compute estimation method").fill_null("")
    language = pl.col("Domain").fill_null("").str.contains("Language")
    base_in_table = pl.col("Base model").is_in(models.implode())
    epochs = _num("Epochs")
    tokens = _num("Training dataset size (total)") * pl.when(epochs >= 1).then(epochs).otherwise(1.0)
    fmt = pl.col("Numerical format").str.to_lowercase()
    mfu = _num("Hardware utilization (MFU)")
    frame = rows.with_columns(
        first_hw.alias("hardware_name"),
        language.alias("is_language"),
        base_in_table.fill_null(False).alias("base_in_table"),
        method.alias("epoch_method"),
    )
    accelerator = catalog.resolve_series(frame.get_column("hardware_name")).alias("accelerator")
    runs = frame.with_columns(accelerator).select(
        pl.col("Model").alias("run_key"),
        pl.col("Model").alias("system_key"),
        pl.when(pl.col("base_in_table")).then(pl.col("Base model")).alias("base_system_key"),
        pl.when(pl.col("base_in_table")).then(pl.lit("fine_tuning")).otherwise(pl.lit("pretraining")).alias("stage"),
        pl.lit("completed").alias("status"),
        "accelerator",
        _num("Hardware quantity").alias("accelerator_count"),
        _num("Training time (hours)").alias("training_hours"),
        _num("Training chip-hours").alias("chip_hours"),
        pl.lit(None, dtype=pl.Date).alias("start_date"),
        pl.lit(None, dtype=pl.Date).alias("end_date"),
        pl.when(fmt.is_in(["fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "fp4", "int8"])).then(fmt).alias("precision"),
        pl.when((mfu > 1) & (mfu <= 100)).then(mfu / 100).otherwise(mfu).alias("utilization"),
        _num("Parameters").alias("parameters"),
        _active_parameters(),
        # 6ND counts tokens, so only language rows file tokens; other domains count images, frames...
        pl.when(pl.col("is_language")).then(tokens).alias("training_tokens"),
        # A figure Epoch marks as reported is the provider's own; for a fine-tune in lineage, the
        # fine-tune compute is what its developer would file for that run.
        pl.when(pl.col("base_in_table"))
        .then(_num("Finetune compute (FLOP)"))
        .when(pl.col("epoch_method").str.contains("Reported"))
        .then(pl.col("epoch_flop"))
        .alias("reported_flop"),
        pl.col("is_language").alias("is_language_model"),
        # bookkeeping
        "epoch_flop",
        "epoch_method",
        pl.col("Confidence").alias("epoch_confidence"),
        "hardware_name",
        pl.col("Base model").alias("base_model"),
        "base_in_table",
        pl.col("Numerical format").alias("numerical_format"),
    )
    systems = runs.select("system_key", "base_system_key")
    return runs, systems


def _break_cycles(systems: pl.DataFrame) -> tuple[pl.DataFrame, list[list[str]]]:
    cycles: list[list[str]] = []
    while True:
        try:
            check_cycles(systems)
            return systems, cycles
        except LineageCycleError as err:
            cycles.append(err.systems)
            systems = systems.with_columns(
                pl.when(pl.col("system_key").is_in(err.systems))
                .then(None)
                .otherwise(pl.col("base_system_key"))
                .alias("base_system_key")
            )


def _stats(ours: pl.Expr, low: pl.Expr, high: pl.Expr, frame: pl.DataFrame) -> dict[str, Any]:
    sub = frame.filter(ours.is_not_null() & (ours > 0))
    if sub.height == 0:
        return {
            "rows_compared": 0,
            "share_within_30pct": None,
            "share_within_2x": None,
            "median_ratio": None,
            "interval_coverage": None,
        }
    ratio = ours / pl.col("epoch_flop")
    out = sub.select(
        pl.len().alias("rows_compared"),
        ((ratio - 1).abs() <= 0.3).mean().alias("share_within_30pct"),
        ((ratio >= 0.5) & (ratio <= 2.0)).mean().alias("share_within_2x"),
        ratio.median().alias("median_ratio"),
        ((low <= pl.col("epoch_flop") * (1 + 1e-9)) & (high >= pl.col("epoch_flop") * (1 - 1e-9)))
        .mean()
        .alias("interval_coverage"),
    ).row(0, named=True)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in out.items()}


def _block(ours: str, frame: pl.DataFrame) -> dict[str, Any]:
    c, lo, hi = (pl.col(f"{ours}_{s}") for s in ("central", "low", "high"))
    stats = _stats(c, lo, hi, frame)
    stats["confident"] = _stats(c, lo, hi, frame.filter(pl.col("epoch_confidence") == "Confident"))
    return stats


def _miss_cause() -> pl.Expr:
    arch_ratio = pl.col("architecture_flop_central") / pl.col("epoch_flop")
    only_hw = pl.col("methods").list.len() == 1
    return (
        pl.when(pl.col("base_in_table") & pl.col("base_training_flop_central").is_null())
        .then(pl.lit("base model absent"))
        .when(pl.col("base_in_table") & (pl.col("epoch_flop") < 0.5 * pl.col("base_training_flop_central")))
        .then(pl.lit("Epoch figure excludes the base model"))
        .when(
            pl.col("hardware_name").is_not_null()
            & pl.col("accelerator").is_null()
            & (pl.col("methods").list.len() == 0)
        )
        .then(pl.lit("unknown hardware"))
        .when((arch_ratio < 0.5) | (arch_ratio > 2.0))
        .then(pl.lit("dataset size is not tokens seen"))
        .when(only_hw & pl.col("methods").list.contains("hardware") & pl.col("precision").is_null())
        .then(pl.lit("precision unknown"))
        .when(pl.col("hardware_name").is_not_null() & pl.col("accelerator").is_null())
        .then(pl.lit("unknown hardware"))
        .otherwise(pl.lit("other"))
    )


def run(path: Path) -> dict[str, Any]:
    rows = load_rows(path)
    runs, systems = to_disclosures(rows)
    systems, cycles = _break_cycles(systems)
    runs = runs.drop("base_system_key").join(systems, on="system_key", how="left")
    catalog = load_catalog()
    est = estimate_runs(runs, catalog)
    usable = est.filter(pl.col("methods").list.len() > 0)
    sys_est = estimate_systems(usable, systems, AS_OF)
    joined = est.join(
        sys_est.select(
            "system_key",
            pl.col("training_flop_central").alias("cum_central"),
            pl.col("training_flop_low").alias("cum_low"),
            pl.col("training_flop_high").alias("cum_high"),
            "base_training_flop_central",
            "lineage_complete",
        ),
        on="system_key",
        how="left",
    ).sort("run_key")
    # Epoch's figure includes a base model that is not in the table: our hardware / counting
    # fields describe only the fine-tune. Reported apart, not counted as misses.
    fine_tune_only = joined.filter(pl.col("base_model").is_not_null() & ~pl.col("base_in_table"))
    compared = joined.filter(
        ~(pl.col("base_model").is_not_null() & ~pl.col("base_in_table")) & (pl.col("cum_central") > 0)
    )
    no_inputs = joined.filter(pl.col("methods").list.len() == 0).height
    standalone = compared.filter(~pl.col("base_in_table"))
    results: dict[str, Any] = {
        "name": "accuracy",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "source": str(path),
        "rows_in_table_with_compute": rows.height,
        "rows_without_any_method_inputs": no_inputs,
        "lineage_cycles_broken": cycles,
    }
    for m in ("hardware", "architecture", "reported"):
        results[m] = _block(f"{m}_flop", standalone)
    results["overall"] = _block("cum", compared)
    results["reported"]["note"] = (
        "circular by construction: the reported figure filed is Epoch's own value where Epoch marks "
        "it Reported (for fine-tunes in lineage: Epoch's fine-tune compute)"
    )
    lang_oc = standalone.filter(pl.col("is_language_model") & pl.col("epoch_method").str.contains("Operation counting"))
    results["architecture_language_operation_counting"] = _block("architecture_flop", lang_oc)
    apart = fine_tune_only.filter(pl.col("cum_central") > 0)
    results["fine_tune_only_reported_apart"] = {
        **_stats(pl.col("cum_central"), pl.col("cum_low"), pl.col("cum_high"), apart),
        "note": "Epoch's figure includes a base model absent from the table; ours covers the fine-tune only",
    }
    # Threshold safety: an Epoch figure >= 2x a threshold must never be classified `below`
    # (whole interval at or below it). A system whose lineage has a gap (a base without any
    # estimate) is never `below`: its missing compute is unbounded.
    violations = []
    unclassified = []
    for t in THRESHOLDS:
        at_or_below = (pl.col("cum_high") <= t) & (pl.col("epoch_flop") >= 2 * t)
        unclassified += compared.filter(at_or_below & ~pl.col("lineage_complete"))["run_key"].to_list()
        bad = compared.filter(at_or_below & pl.col("lineage_complete"))
        violations += [
            {"model": r["run_key"], "threshold": t, "epoch_flop": r["epoch_flop"], "high": r["cum_high"]}
            for r in bad.iter_rows(named=True)
        ]
    ratio = pl.col("cum_central") / pl.col("epoch_flop")
    missed = compared.filter(
        (ratio < 0.5)
        | (ratio > 2.0)
        | (pl.col("cum_low") > pl.col("epoch_flop") * (1 + 1e-9))
        | (pl.col("cum_high") < pl.col("epoch_flop") * (1 - 1e-9))
    ).with_columns(_miss_cause().alias("cause"), ratio.alias("ratio"))
    results["misses_by_cause"] = dict(sorted(missed.group_by("cause").len().iter_rows(), key=lambda kv: -kv[1]))
    results["misses"] = [
        {
            "model": r["run_key"],
            "cause": r["cause"],
            "epoch_flop": r["epoch_flop"],
            "central": r["cum_central"],
            "low": r["cum_low"],
            "high": r["cum_high"],
            "ratio": round(r["ratio"], 3),
            "methods": r["methods"],
            "epoch_method": r["epoch_method"],
        }
        for r in missed.sort("ratio").iter_rows(named=True)
    ]
    achieved = {
        "architecture_within_30pct_language_operation_counting": results["architecture_language_operation_counting"][
            "share_within_30pct"
        ],
        "overall_within_2x": results["overall"]["share_within_2x"],
        "overall_within_30pct": results["overall"]["share_within_30pct"],
        "overall_interval_coverage": results["overall"]["interval_coverage"],
        "confident_interval_coverage": results["overall"]["confident"]["interval_coverage"],
        "rows_below_threshold_with_epoch_at_least_2x": len(violations),
    }
    met = {k: (achieved[k] == 0 if k.startswith("rows_below") else (achieved[k] or 0) >= v) for k, v in TARGETS.items()}
    results["targets"] = {k: {"target": TARGETS[k], "achieved": achieved[k], "met": met[k]} for k in TARGETS}
    results["threshold_violations"] = violations
    results["not_classified_below_because_lineage_incomplete"] = sorted(set(unclassified))
    results["meets_target"] = all(met.values())
    return results


def _print(results: dict[str, Any]) -> None:
    def fmt(v: Any) -> str:
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    print(
        f"Epoch rows with compute: {results['rows_in_table_with_compute']} "
        f"(no method inputs: {results['rows_without_any_method_inputs']})"
    )
    header = f"{'method':<34}{'rows':>6}{'±30%':>8}{'2x':>8}{'median':>8}{'in 90%':>8}"
    print(header)
    print("-" * len(header))
    for key in (
        "hardware",
        "architecture",
        "reported",
        "overall",
        "architecture_language_operation_counting",
        "fine_tune_only_reported_apart",
    ):
        blocks = [(key, results[key])]
        if "confident" in results[key]:
            blocks.append((f"  {key} (Epoch Confident)", results[key]["confident"]))
        for name, b in blocks:
            print(
                f"{name[:34]:<34}{fmt(b['rows_compared']):>6}{fmt(b['share_within_30pct']):>8}"
                f"{fmt(b['share_within_2x']):>8}{fmt(b['median_ratio']):>8}{fmt(b['interval_coverage']):>8}"
            )
    print("\nTargets:")
    for k, t in results["targets"].items():
        print(f"  {'MET ' if t['met'] else 'MISS'} {k}: {fmt(t['achieved'])} (target {t['target']})")
    print(f"\nMisses by cause: {results['misses_by_cause']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "accuracy.json")
    args = parser.parse_args(argv)
    path = args.path or next((p for p in (DEFAULT_PATH, FALLBACK_PATH) if p.exists()), DEFAULT_PATH)
    if not path.exists():
        print(f"skipping accuracy benchmark: {path} not found (Epoch AI all_ai_models.csv)")
        return 0
    results = run(path)
    _print(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
