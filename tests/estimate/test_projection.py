from datetime import date

import polars as pl
import pytest

from tracker.estimate import crossing_date, estimate_runs, estimate_systems


def test_planned_run_projection_and_crossing(make_runs, catalog, as_of) -> None:
    # 9e24 done; a planned run of 8.64e24 over 100 days (8.64e22/day) crosses 1e25 after 12 days.
    runs = make_runs(
        {"system_key": "s", "reported_flop": 9e24, "end_date": date(2025, 12, 1)},
        {
            "system_key": "s",
            "status": "planned",
            "reported_flop": 8.64e24,
            "start_date": date(2026, 1, 1),
            "end_date": date(2026, 4, 11),
        },
    )
    systems = pl.DataFrame(
        {"system_key": ["s"], "base_system_key": [None]}, schema_overrides={"base_system_key": pl.String}
    )
    out = estimate_systems(estimate_runs(runs, catalog), systems, as_of)
    row = out.row(0, named=True)
    assert row["training_flop_central"] == pytest.approx(9e24)
    assert row["projected_training_flop_central"] == pytest.approx(1.764e25)
    assert row["projected_flop_per_day"] == pytest.approx(8.64e22)
    assert row["projection_start_date"] == date(2026, 1, 1)
    assert row["projection_end_date"] == date(2026, 4, 11)
    assert row["last_completed_end_date"] == date(2025, 12, 1)
    assert crossing_date(out, 1e25).to_list() == [date(2026, 1, 13)]
    assert crossing_date(out, 1e26).to_list() == [None]  # never reached by the planned end
    assert crossing_date(out, 1e24).to_list() == [None]  # already crossed by completed compute


def test_no_pending_runs_projection_equals_training(make_runs, catalog, as_of) -> None:
    runs = make_runs({"system_key": "s", "reported_flop": 1e23})
    systems = pl.DataFrame(
        {"system_key": ["s"], "base_system_key": [None]}, schema_overrides={"base_system_key": pl.String}
    )
    row = estimate_systems(estimate_runs(runs, catalog), systems, as_of).row(0, named=True)
    assert row["projected_training_flop_central"] == row["training_flop_central"]
    assert row["projected_flop_per_day"] is None


def test_in_progress_without_start_runs_from_as_of(make_runs, catalog) -> None:
    runs = make_runs(
        {
            "system_key": "s",
            "status": "in_progress",
            "accelerator": "NVIDIA B200",
            "accelerator_count": 1000.0,
            "training_hours": 240.0,
            "precision": "bf16",
            "utilization": 0.4,
            "end_date": date(2026, 1, 11),
        }
    )
    systems = pl.DataFrame(
        {"system_key": ["s"], "base_system_key": [None]}, schema_overrides={"base_system_key": pl.String}
    )
    row = estimate_systems(estimate_runs(runs, catalog), systems, date(2026, 1, 1)).row(0, named=True)
    flop = 1000 * 240 * 3600 * 2250e12 * 0.4
    assert row["training_flop_central"] is None
    assert row["projected_training_flop_central"] == pytest.approx(flop)
    assert row["projected_flop_per_day"] == pytest.approx(flop / 10)
