import math

import polars as pl
import pytest

from tests.estimate.public_runs import LLAMA_31_405B, LLAMA_31_405B_REPORTED_FLOP
from tracker.estimate import estimate_runs
from tracker.estimate.reconcile import reconcile


def test_llama_31_405b_three_methods_within_30pct(make_runs, catalog) -> None:
    row = estimate_runs(
        make_runs(
            LLAMA_31_405B | {"reported_flop": LLAMA_31_405B_REPORTED_FLOP}
        ),
        catalog,
    ).row(0, named=True)
    assert row["methods"] == ["architecture", "hardware", "reported"]
    assert abs(row["training_flop_central"] / 3.8e25 - 1) < 0.30
    assert row["training_flop_central"] == pytest.approx(3.75e25, rel=0.01)
    assert row["training_flop_low"] < 3.8e25 < row["training_flop_high"]
    assert row["discrepancy"] is False
    assert row["confidence"] == "confident"


def test_gpt3_reported_vs_six_n_d(make_runs, catalog) -> None:
    row = estimate_runs(
        make_runs({"parameters": 175e9, "training_tokens": 300e9, "reported_flop": 3.14e23}), catalog
    ).row(0, named=True)
    assert row["discrepancy_ratio"] == pytest.approx(3.14e23 / 3.15e23)
    assert row["discrepancy"] is False
    assert 3.14e23 <= row["training_flop_central"] <= 3.15e23


def test_opt_175b_discrepancy(make_runs, catalog) -> None:
    # OPT-175B reports 4.3e23 against 6ND 3.15e23: 37% apart -> a discrepancy is recorded.
    row = estimate_runs(
        make_runs({"parameters": 175e9, "training_tokens": 300e9, "reported_flop": 4.3e23}), catalog
    ).row(0, named=True)
    assert row["discrepancy_ratio"] == pytest.approx(1.365, abs=0.001)
    assert row["discrepancy"] is True


def _frame(**methods: tuple[float, float, float]) -> pl.DataFrame:
    data = {}
    for name, (c, lo, hi) in methods.items():
        data |= {f"{name}_central": [c], f"{name}_low": [lo], f"{name}_high": [hi]}
    return pl.DataFrame(data)


def test_equal_widths_give_geometric_mean() -> None:
    # Llama 3-70B (Epoch): sqrt(6.3e24 x 9.81e24) = 7.86e24.
    frame = _frame(a=(6.3e24, 6.3e24 / 2, 6.3e24 * 2), b=(9.81e24, 9.81e24 / 2, 9.81e24 * 2))
    out = reconcile(frame, ("a", "b"), "r").select("^r_.*$").row(0, named=True)
    assert out["r_central"] == pytest.approx(7.86e24, rel=0.001)
    assert out["r_low"] < out["r_central"] < out["r_high"]


def test_inverse_variance_weights_tight_method_more() -> None:
    frame = _frame(tight=(1e24, 1e24 / 1.3, 1e24 * 1.3), wide=(2e24, 2e24 / 3, 2e24 * 3))
    out = reconcile(frame, ("tight", "wide"), "r").select("^r_.*$").row(0, named=True)
    w_t, w_w = (2 * 1.645 / (2 * math.log(1.3))) ** 2, (2 * 1.645 / (2 * math.log(3))) ** 2
    expected = math.exp((w_t * math.log(1e24) + w_w * math.log(2e24)) / (w_t + w_w))
    assert out["r_central"] == pytest.approx(expected)
    assert 1e24 < out["r_central"] < 1.2e24


def test_contradicting_methods_take_the_envelope() -> None:
    frame = _frame(a=(1e22, 0.8e22, 1.25e22), b=(1e24, 0.8e24, 1.25e24))
    out = reconcile(frame, ("a", "b"), "r").select("^r_.*$").row(0, named=True)
    assert out["r_low"] == pytest.approx(0.8e22)
    assert out["r_high"] == pytest.approx(1.25e24)


def test_single_method_keeps_its_interval_and_none_is_null() -> None:
    frame = pl.concat(
        [
            _frame(a=(1e22, 0.5e22, 3e22), b=(float("nan"), float("nan"), float("nan"))),
        ]
    ).with_columns(pl.col("^b_.*$").fill_nan(None))
    out = reconcile(frame, ("a", "b"), "r").select("^r_.*$").row(0, named=True)
    assert (out["r_central"], out["r_low"], out["r_high"]) == (1e22, 0.5e22, 3e22)
    empty = reconcile(frame.with_columns(pl.col("^a_.*$") * None), ("a", "b"), "r").select("^r_.*$").row(0)
    assert empty == (None, None, None)
