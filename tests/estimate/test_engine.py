from datetime import date

import polars as pl

import tracker.estimate as estimate
from tracker.estimate import METHODOLOGY_VERSION, estimate_runs, estimate_systems

RUN_OUTPUT = [
    *[
        f"{m}_flop_{s}"
        for m in ("hardware", "architecture", "reported", "training")
        for s in ("central", "low", "high")
    ],
    "methods",
    "confidence",
    "discrepancy",
    "discrepancy_ratio",
    "utilization_used",
    "precision_used",
    "peak_flop_per_s",
    "implied_utilization",
    "notes",
]


def test_public_api() -> None:
    assert METHODOLOGY_VERSION == "2026.11-1"
    for name in (
        "estimate_runs",
        "estimate_systems",
        "estimate_inference",
        "estimate_inference_periods",
        "cluster_capacity",
        "crossing_date",
        "LineageCycleError",
    ):
        assert hasattr(estimate, name)


def test_run_output_columns_and_types(make_runs, catalog) -> None:
    runs = make_runs({"parameters": 1e9, "training_tokens": 1e10}).with_columns(pl.lit(5).alias("extra"))
    out = estimate_runs(runs, catalog)
    assert set(RUN_OUTPUT) <= set(out.columns)
    assert "extra" in out.columns  # input columns are kept
    assert not [c for c in out.columns if c.startswith("_")]
    assert out.schema["methods"] == pl.List(pl.String)
    assert out.schema["discrepancy"] == pl.Boolean


def test_order_is_kept_and_large_frames_run_in_one_pass(make_runs, catalog) -> None:
    n = 200_000
    runs = pl.DataFrame(
        {
            "run_key": [f"r{i}" for i in range(n)],
            "system_key": [f"s{i}" for i in range(n)],
            "status": ["completed"] * n,
            "stage": ["pretraining"] * n,
            "accelerator": ["NVIDIA H100 SXM5", None] * (n // 2),
            "chip_hours": [float(i + 1) for i in range(n)],
            "parameters": [1e9] * n,
            "training_tokens": [float(i + 1) * 1e6 for i in range(n)],
        }
    )
    out = estimate_runs(runs, catalog)
    assert out["run_key"].to_list()[:3] == ["r0", "r1", "r2"]
    assert out["architecture_flop_central"][n - 1] == 6e9 * n * 1e6
    systems = out.select("system_key", pl.lit(None, dtype=pl.String).alias("base_system_key"))
    sys_out = estimate_systems(out, systems, date(2026, 1, 1))
    assert sys_out.height == n
