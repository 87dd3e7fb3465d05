import pytest

from tests.estimate.public_runs import LLAMA_31_405B
from tracker.estimate import estimate_runs


def _row(frame, catalog) -> dict:
    return estimate_runs(frame, catalog).row(0, named=True)


def test_eu_annex_a3_a100(make_runs, catalog) -> None:
    # 200,000 A100-hours x 3600 x 312e12 (dense BF16) x 0.5 = 1.12e23 (Guidelines: ~1e23 with 300e12).
    row = _row(
        make_runs({"accelerator": "NVIDIA A100 SXM4 40GB", "chip_hours": 2e5, "precision": "bf16", "utilization": 0.5}),
        catalog,
    )
    assert row["hardware_flop_central"] == pytest.approx(2e5 * 3600 * 312e12 * 0.5)
    assert row["hardware_flop_central"] == pytest.approx(1.1e23, rel=0.03)
    # Filed MFU and precision: only the input (x1.25) and MFU (x1.15) widths remain, in quadrature:
    # exp(sqrt(ln(1.25)^2 + ln(1.15)^2)) = 1.3012.
    assert row["hardware_flop_high"] / row["hardware_flop_central"] == pytest.approx(1.3012, rel=1e-3)


def test_eu_annex_a3_h100(make_runs, catalog) -> None:
    # 370,000 H100-hours x 3600 x 989.4e12 x 0.5 = 6.59e23 (Guidelines: ~6.5e23).
    row = _row(
        make_runs({"accelerator": "NVIDIA H100 SXM5", "chip_hours": 3.7e5, "precision": "bf16", "utilization": 0.5}),
        catalog,
    )
    assert row["hardware_flop_central"] == pytest.approx(6.59e23, rel=0.002)


def test_llama_31_405b_prior_and_implied_utilization(make_runs, catalog) -> None:
    # 30.84M H100-hours x 3600 x 989.4e12 x 0.30 (prior) = 3.295e25; vs 6ND 3.79e25 -> u = 0.345.
    row = _row(
        make_runs(
            LLAMA_31_405B
        ),
        catalog,
    )
    assert row["hardware_flop_central"] == pytest.approx(3.2953e25, rel=1e-4)
    assert row["utilization_used"] == pytest.approx(0.30)
    assert row["implied_utilization"] == pytest.approx(0.345, abs=0.001)
    assert row["hardware_flop_low"] == pytest.approx(row["hardware_flop_central"] * 0.17 / 0.30, rel=0.08)


def test_palm_stage_arithmetic(make_runs, catalog) -> None:
    # PaLM: 6144 TPU v4 x 1200 h + 3072 x 336 h = 8,404,992 chip-hours; at 46.2% MFU -> 3.84e24.
    runs = make_runs(
        {
            "system_key": "palm",
            "accelerator": "Google TPU v4",
            "accelerator_count": 6144.0,
            "training_hours": 1200.0,
            "precision": "bf16",
            "utilization": 0.462,
        },
        {
            "system_key": "palm",
            "accelerator": "Google TPU v4",
            "accelerator_count": 3072.0,
            "training_hours": 336.0,
            "precision": "bf16",
            "utilization": 0.462,
        },
    )
    total = estimate_runs(runs, catalog)["hardware_flop_central"].sum()
    assert total == pytest.approx(8_404_992 * 3600 * 275e12 * 0.462)
    assert total == pytest.approx(3.84e24, rel=0.01)


def test_chip_hours_preferred_over_count_times_hours(make_runs, catalog) -> None:
    row = _row(
        make_runs(
            {
                "accelerator": "NVIDIA H100 SXM5",
                "chip_hours": 100.0,
                "accelerator_count": 8.0,
                "training_hours": 1000.0,
                "precision": "bf16",
                "utilization": 0.4,
            }
        ),
        catalog,
    )
    assert row["hardware_flop_central"] == pytest.approx(100 * 3600 * 989.4e12 * 0.4)


def test_precision_fallback_note_and_widening(make_runs, catalog) -> None:
    # V100 has no BF16: a filed bf16 run falls back to the FP16 tensor peak, interval x2 wider.
    row = _row(
        make_runs({"accelerator": "NVIDIA V100 SXM2", "chip_hours": 1000.0, "precision": "bf16", "utilization": 0.3}),
        catalog,
    )
    assert row["precision_used"] == "fp16"
    assert row["peak_flop_per_s"] == 125e12
    assert "precision fallback bf16->fp16" in row["notes"]
    assert row["hardware_flop_central"] / row["hardware_flop_low"] > 2.0


def test_unknown_precision_assumes_bf16_and_widens(make_runs, catalog) -> None:
    row = _row(make_runs({"accelerator": "NVIDIA H100 SXM5", "chip_hours": 1000.0, "utilization": 0.3}), catalog)
    assert row["precision_used"] == "bf16"
    assert row["hardware_flop_central"] == pytest.approx(1000 * 3600 * 989.4e12 * 0.3)
    assert row["hardware_flop_high"] / row["hardware_flop_central"] > 2.0
    assert "precision not filed" in row["notes"]
    # A V100 guessed at its FP16 tensor peak may have run FP32 (125 / 15.7 = 8x slower).
    v100 = _row(make_runs({"accelerator": "NVIDIA V100 SXM2", "chip_hours": 1000.0, "utilization": 0.3}), catalog)
    assert v100["hardware_flop_central"] / v100["hardware_flop_low"] > 125 / 15.7


def test_moe_prior_widens_downward(make_runs, catalog) -> None:
    dense = _row(make_runs({"accelerator": "NVIDIA H800 SXM5", "chip_hours": 2.788e6, "precision": "fp8"}), catalog)
    moe = _row(
        make_runs(
            {
                "accelerator": "NVIDIA H800 SXM5",
                "chip_hours": 2.788e6,
                "precision": "fp8",
                "parameters": 671e9,
                "active_parameters": 37e9,
            }
        ),
        catalog,
    )
    assert moe["hardware_flop_central"] == dense["hardware_flop_central"]
    assert moe["hardware_flop_low"] < dense["hardware_flop_low"]
    assert moe["hardware_flop_low"] == pytest.approx(moe["hardware_flop_central"] * 0.11 / 0.30, rel=0.1)
    assert "mixture-of-experts" in moe["notes"]


def test_non_language_prior(make_runs, catalog) -> None:
    frame = make_runs({"accelerator": "NVIDIA A100 SXM4 80GB", "chip_hours": 10.0, "precision": "bf16"})
    import polars as pl

    row = _row(frame.with_columns(pl.lit(False).alias("is_language_model")), catalog)
    assert row["utilization_used"] == pytest.approx(0.40)


def test_missing_hardware_inputs(make_runs, catalog) -> None:
    row = _row(make_runs({"accelerator": "NVIDIA H100 SXM5", "accelerator_count": 8.0, "reported_flop": 1e20}), catalog)
    assert row["hardware_flop_central"] is None
    assert row["utilization_used"] is None
