import math

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from tracker.catalog import load_catalog
from tracker.estimate import estimate_runs
from tracker.estimate.engine import RUN_SCHEMA

CATALOG = load_catalog()
CHIPS = ["NVIDIA H100 SXM5", "NVIDIA V100 SXM2", "Google TPU v4", "NVIDIA B200", "AMD Instinct MI300X"]
PRECISION = st.sampled_from([None, "bf16", "fp8", "fp32", "tf32", "fp16"])
positive = st.floats(min_value=1.0, max_value=1e6, allow_nan=False, allow_infinity=False)


def _frame(rows: list[dict]) -> pl.DataFrame:
    base = {"run_key": "r", "system_key": "s", "stage": "pretraining", "status": "completed"}
    return pl.DataFrame(
        [{**base, **r, "run_key": f"r{i}"} for i, r in enumerate(rows)], schema=RUN_SCHEMA, strict=False
    )


def _check_bounds(out: pl.DataFrame) -> None:
    for prefix in ("hardware_flop", "architecture_flop", "reported_flop", "training_flop"):
        for c, lo, hi in out.select(f"{prefix}_central", f"{prefix}_low", f"{prefix}_high").iter_rows():
            if c is None:
                continue
            assert math.isfinite(c) and c > 0
            assert 0 < lo <= c * (1 + 1e-12)
            assert c <= hi * (1 + 1e-12)


@settings(max_examples=50, deadline=None)
@given(
    chips=positive,
    hours=positive,
    factor=st.floats(min_value=1.01, max_value=100),
    chip=st.sampled_from(CHIPS),
    precision=PRECISION,
    utilization=st.one_of(st.none(), st.floats(min_value=0.01, max_value=1.0)),
)
def test_hardware_monotone_in_chips_and_hours(chips, hours, factor, chip, precision, utilization) -> None:
    common = {"accelerator": chip, "precision": precision, "utilization": utilization}
    out = estimate_runs(
        _frame(
            [
                {**common, "accelerator_count": chips, "training_hours": hours},
                {**common, "accelerator_count": chips * factor, "training_hours": hours},
                {**common, "accelerator_count": chips, "training_hours": hours * factor},
            ]
        ),
        CATALOG,
    )
    _check_bounds(out)
    c = out["hardware_flop_central"].to_list()
    assert c[1] > c[0] and c[2] > c[0]
    hi = out["training_flop_high"].to_list()
    assert hi[1] > hi[0] and hi[2] > hi[0]


@settings(max_examples=50, deadline=None)
@given(
    params=st.floats(min_value=1e6, max_value=1e13),
    tokens=st.floats(min_value=1e6, max_value=1e14),
    factor=st.floats(min_value=1.01, max_value=100),
    moe=st.floats(min_value=0.01, max_value=1.0),
    reported=st.one_of(st.none(), st.floats(min_value=1e15, max_value=1e28)),
)
def test_architecture_monotone_in_params_and_tokens(params, tokens, factor, moe, reported) -> None:
    common = {"reported_flop": reported}
    out = estimate_runs(
        _frame(
            [
                {**common, "parameters": params, "active_parameters": params * moe, "training_tokens": tokens},
                {
                    **common,
                    "parameters": params * factor,
                    "active_parameters": params * moe * factor,
                    "training_tokens": tokens,
                },
                {**common, "parameters": params, "active_parameters": params * moe, "training_tokens": tokens * factor},
            ]
        ),
        CATALOG,
    )
    _check_bounds(out)
    c = out["architecture_flop_central"].to_list()
    assert c[1] > c[0] and c[2] > c[0]
    t = out["training_flop_central"].to_list()
    assert t[1] >= t[0] * (1 - 1e-12) and t[2] >= t[0] * (1 - 1e-12)


@settings(max_examples=50, deadline=None)
@given(
    chips=positive,
    hours=positive,
    params=st.floats(min_value=1e6, max_value=1e13),
    tokens=st.floats(min_value=1e6, max_value=1e14),
    reported=st.floats(min_value=1e15, max_value=1e28),
    chip=st.sampled_from(CHIPS),
    precision=PRECISION,
)
def test_reconciled_bounds_always_ordered(chips, hours, params, tokens, reported, chip, precision) -> None:
    out = estimate_runs(
        _frame(
            [
                {
                    "accelerator": chip,
                    "accelerator_count": chips,
                    "training_hours": hours,
                    "precision": precision,
                    "parameters": params,
                    "training_tokens": tokens,
                    "reported_flop": reported,
                }
            ]
        ),
        CATALOG,
    )
    _check_bounds(out)
    assert out["confidence"].to_list()[0] in {"confident", "likely", "speculative"}
