from datetime import date

import polars as pl
import pytest

from tracker.estimate import estimate_inference, estimate_inference_periods

USAGE_SCHEMA = {
    "system_key": pl.String,
    "period_start": pl.Date,
    "period_end": pl.Date,
    "input_tokens": pl.Float64,
    "output_tokens": pl.Float64,
    "requests": pl.Float64,
    "mean_context_tokens": pl.Float64,
    "accelerator": pl.String,
    "accelerator_hours": pl.Float64,
    "utilization": pl.Float64,
}


def _usage(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame([{k: r.get(k) for k in USAGE_SCHEMA} for r in rows], schema=USAGE_SCHEMA)


PARAMS = pl.DataFrame({"system_key": ["gpt4o"], "active_parameters": [100e9]})


def test_epoch_chatgpt_query_arithmetic(catalog) -> None:
    # Epoch: 100B active x 500 output tokens x 2 = 1e14 FLOP per query; 1e6 queries -> 1e20.
    usage = _usage(
        {
            "system_key": "gpt4o",
            "period_start": date(2026, 5, 1),
            "period_end": date(2026, 5, 31),
            "output_tokens": 500 * 1e6,
            "requests": 1e6,
        }
    )
    row = estimate_inference_periods(usage, PARAMS, catalog, date(2026, 5, 31)).row(0, named=True)
    assert row["inference_flop_central"] == pytest.approx(1e20)
    assert row["methods"] == ["architecture"]
    assert row["inference_flop_high"] == pytest.approx(1.6e20)


def test_fleet_hours_with_prior_and_reconciliation(catalog) -> None:
    # 1000 H100-hours x 3600 x 989.4e12 x 10% (Epoch's ChatGPT assumption) = 3.56e20.
    usage = _usage(
        {
            "system_key": "gpt4o",
            "period_start": date(2026, 5, 1),
            "period_end": date(2026, 5, 31),
            "accelerator": "NVIDIA H100 SXM5",
            "accelerator_hours": 1000.0,
        }
    )
    row = estimate_inference_periods(usage, PARAMS, catalog, date(2026, 5, 31)).row(0, named=True)
    assert row["fleet_flop_central"] == pytest.approx(1000 * 3600 * 989.4e12 * 0.10)
    assert row["fleet_flop_low"] < row["fleet_flop_central"] / 2  # 5% utilization and unknown format
    filed = usage.with_columns(pl.lit(0.2).alias("utilization"))
    row = estimate_inference_periods(filed, PARAMS, catalog, date(2026, 5, 31)).row(0, named=True)
    assert row["fleet_flop_central"] == pytest.approx(1000 * 3600 * 989.4e12 * 0.2)


def test_attention_term_with_context(catalog) -> None:
    params = PARAMS.with_columns(pl.lit(80.0).alias("layers"), pl.lit(8192.0).alias("d_model"))
    usage = _usage(
        {
            "system_key": "gpt4o",
            "period_start": date(2026, 5, 1),
            "period_end": date(2026, 5, 1),
            "input_tokens": 1e6,
            "output_tokens": 1e6,
            "mean_context_tokens": 4096.0,
        }
    )
    row = estimate_inference_periods(usage, params, catalog, date(2026, 5, 1)).row(0, named=True)
    attention = 4 * 80 * 8192 * 4096 * 1e6 + 2 * 80 * 8192 * 4096 * 1e6
    assert row["inference_flop_central"] == pytest.approx(2 * 100e9 * 2e6 + attention)


def test_thirty_day_window_prorates_and_totals(catalog) -> None:
    # as_of 2026-06-15: the window is 2026-05-17..2026-06-15. A May period (31 days, 3.1e20) overlaps
    # 15 days; a June period 1..30 (30 days, 3e20) overlaps 15 days; nothing after as_of counts.
    usage = _usage(
        {
            "system_key": "gpt4o",
            "period_start": date(2026, 5, 1),
            "period_end": date(2026, 5, 31),
            "output_tokens": 1.55e9,
        },
        {
            "system_key": "gpt4o",
            "period_start": date(2026, 6, 1),
            "period_end": date(2026, 6, 30),
            "output_tokens": 1.5e9,
        },
        {
            "system_key": "gpt4o",
            "period_start": date(2026, 1, 1),
            "period_end": date(2026, 1, 31),
            "output_tokens": 1.55e9,
        },
    )
    out = estimate_inference(usage, PARAMS, catalog, date(2026, 6, 15)).row(0, named=True)
    assert out["inference_flop_30d_central"] == pytest.approx(3.1e20 * 15 / 31 + 3e20 * 15 / 30)
    assert out["inference_flop_total_central"] == pytest.approx(3.1e20 + 3.1e20 + 1.5e20)
    assert out["methods"] == ["architecture"]
    periods = estimate_inference_periods(usage, PARAMS, catalog, date(2026, 6, 15))
    assert periods["period_start"].to_list() == [date(2026, 1, 1), date(2026, 5, 1), date(2026, 6, 1)]
    assert periods["cumulative_inference_flop_central"].to_list()[-1] == pytest.approx(9.2e20)


def test_no_usage_in_window_is_null(catalog) -> None:
    usage = _usage(
        {"system_key": "gpt4o", "period_start": date(2025, 1, 1), "period_end": date(2025, 1, 31), "output_tokens": 1e9}
    )
    out = estimate_inference(usage, PARAMS, catalog, date(2026, 6, 15)).row(0, named=True)
    assert out["inference_flop_30d_central"] is None
    assert out["inference_flop_total_central"] == pytest.approx(2e20)
