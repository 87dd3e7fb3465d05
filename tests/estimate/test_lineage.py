from datetime import date

import polars as pl
import pytest

from tracker.estimate import LineageCycleError, estimate_runs, estimate_systems


def _systems(pairs: list[tuple[str, str | None]]) -> pl.DataFrame:
    return pl.DataFrame(pairs, schema={"system_key": pl.String, "base_system_key": pl.String}, orient="row")


def _by_key(frame: pl.DataFrame) -> dict[str, dict]:
    return {r["system_key"]: r for r in frame.iter_rows(named=True)}


def test_deepseek_r1_cumulative(make_runs, catalog, as_of) -> None:
    # DeepSeek-R1 = V3 3.29e24 + RL 1.8e23 = 3.47e24 (Epoch: 3.5e24); own (modification) = 1.8e23.
    runs = make_runs(
        {"system_key": "ds/v3", "reported_flop": 3.29e24},
        {"system_key": "ds/r1", "base_system_key": "ds/v3", "stage": "reinforcement_learning", "reported_flop": 1.8e23},
    )
    out = _by_key(
        estimate_systems(estimate_runs(runs, catalog), _systems([("ds/v3", None), ("ds/r1", "ds/v3")]), as_of)
    )
    r1 = out["ds/r1"]
    assert r1["training_flop_central"] == pytest.approx(3.47e24)
    assert r1["training_flop_central"] == pytest.approx(3.5e24, rel=0.01)
    assert r1["own_training_flop_central"] == pytest.approx(1.8e23)
    assert r1["base_training_flop_central"] == pytest.approx(3.29e24)
    # Fully correlated sums: lows add, highs add.
    assert r1["training_flop_low"] == pytest.approx((3.29e24 + 1.8e23) / 1.3)
    assert r1["training_flop_high"] == pytest.approx((3.29e24 + 1.8e23) * 1.3)
    assert r1["lineage_depth"] == 1
    assert r1["lineage_complete"] is True
    assert r1["largest_run_flop_central"] == pytest.approx(1.8e23)


def test_composer_style_three_generations_and_stages(make_runs, catalog, as_of) -> None:
    runs = make_runs(
        {"system_key": "a", "reported_flop": 1e24},
        {"system_key": "b", "base_system_key": "a", "stage": "fine_tuning", "reported_flop": 1e23},
        {"system_key": "b", "base_system_key": "a", "stage": "synthetic_data", "reported_flop": 5e22},
        {"system_key": "c", "base_system_key": "b", "stage": "post_training", "reported_flop": 2e23},
    )
    est = estimate_runs(runs, catalog)
    out = _by_key(estimate_systems(est, _systems([("a", None), ("b", "a"), ("c", "b")]), as_of))
    assert out["c"]["training_flop_central"] == pytest.approx(1.35e24)
    assert out["c"]["param_update_flop_central"] == pytest.approx(1.3e24)  # synthetic data excluded
    assert out["b"]["own_training_flop_central"] == pytest.approx(1.5e23)
    assert out["b"]["largest_run_flop_central"] == pytest.approx(1e23)
    assert out["c"]["lineage_depth"] == 2
    assert out["c"]["methods"] == ["reported"]


def test_system_without_runs_is_unknown_or_inherits(make_runs, catalog, as_of) -> None:
    est = estimate_runs(make_runs({"system_key": "base", "reported_flop": 1e24}), catalog)
    out = _by_key(estimate_systems(est, _systems([("base", None), ("child", "base"), ("lonely", None)]), as_of))
    assert out["lonely"]["training_flop_central"] is None
    assert out["lonely"]["confidence"] is None
    assert out["child"]["training_flop_central"] == pytest.approx(1e24)
    assert out["child"]["own_training_flop_central"] is None
    assert out["child"]["lineage_complete"] is False  # own compute unknown


def test_unknown_base_makes_lineage_incomplete(make_runs, catalog, as_of) -> None:
    est = estimate_runs(make_runs({"system_key": "ft", "base_system_key": "elsewhere", "reported_flop": 1e21}), catalog)
    out = _by_key(estimate_systems(est, _systems([("ft", "elsewhere")]), as_of))
    assert out["ft"]["training_flop_central"] == pytest.approx(1e21)
    assert out["ft"]["lineage_complete"] is False


def test_cycle_raises_naming_systems(make_runs, catalog) -> None:
    est = estimate_runs(make_runs({"system_key": "x", "reported_flop": 1e20}), catalog)
    systems = _systems([("x", "y"), ("y", "z"), ("z", "x"), ("ok", None)])
    with pytest.raises(LineageCycleError) as info:
        estimate_systems(est, systems, date(2026, 1, 1))
    assert sorted(info.value.systems) == ["x", "y", "z"]
    assert "x" in str(info.value)


def test_self_cycle(make_runs, catalog, as_of) -> None:
    est = estimate_runs(make_runs({"system_key": "x", "reported_flop": 1e20}), catalog)
    with pytest.raises(LineageCycleError):
        estimate_systems(est, _systems([("x", "x")]), as_of)


def test_deep_chain_is_resolved_by_depth(make_runs, catalog, as_of) -> None:
    n = 40
    runs = make_runs(*[{"system_key": f"s{i}", "reported_flop": 1e20} for i in range(n)])
    systems = _systems([(f"s{i}", f"s{i - 1}" if i else None) for i in range(n)])
    out = _by_key(estimate_systems(estimate_runs(runs, catalog), systems, as_of))
    assert out[f"s{n - 1}"]["training_flop_central"] == pytest.approx(n * 1e20)
    assert out[f"s{n - 1}"]["lineage_depth"] == n - 1
