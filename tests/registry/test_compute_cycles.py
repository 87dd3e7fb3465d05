"""A lineage cycle in stored data (filing refuses new ones) sets its systems aside instead of
stopping the registry's evaluation: the pure glue, compute_registry."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from tests.registry.factories import frame, registry_inputs
from tracker.catalog.accelerators import load_catalog
from tracker.estimate.lineage import lineage_cycles
from tracker.regimes.load import load_regimes
from tracker.registry.compute import compute_registry
from tracker.registry.inputs import CLUSTER_SCHEMA, USAGE_SCHEMA, RegistryInputs

AS_OF = date(2026, 11, 27)


def _inputs(systems: list[tuple[str, int, str, str | None]], runs: list[dict[str, object]]) -> RegistryInputs:
    rows = [{"system_key": k, "provider_id": p, "provider": f"p{p}", "name": n, "version": "",
             "base_system_key": b, "is_downstream_modifier": False} for k, p, n, b in systems]
    return registry_inputs(rows, runs)


def _run(key: str, flop: float) -> dict[str, object]:
    return {"run_key": key, "system_key": key, "reported_flop": flop, "status": "completed",
            "end_date": date(2025, 7, 1)}


def test_lineage_cycles_names_members_and_descendants() -> None:
    nodes = pl.DataFrame({"system_key": ["a", "b", "c", "d", "e", "f"],
                          "base_system_key": ["b", "a", "a", "c", None, "f"]})
    found = {r["system_key"]: r for r in lineage_cycles(nodes).iter_rows(named=True)}
    assert set(found) == {"a", "b", "c", "d", "f"}  # e has no loop in its lineage
    assert found["a"]["on_cycle"] and found["b"]["on_cycle"] and found["f"]["on_cycle"]
    assert not found["c"]["on_cycle"] and not found["d"]["on_cycle"]
    assert found["d"]["cycle"] == ["a", "b"] and found["f"]["cycle"] == ["f"]


def test_a_cycle_sets_its_systems_aside_and_everyone_else_is_evaluated() -> None:
    # 1 <-> 2 loop (provider 1), 3 fine-tunes 1 (a descendant), 4 is another provider's 5e25 model.
    systems = [("1", 1, "a", "2"), ("2", 1, "b", "1"), ("3", 1, "c", "1"), ("4", 2, "big", None)]
    runs = [_run("1", 3e25), _run("2", 3e25), _run("3", 1e22), _run("4", 5e25)]
    result = compute_registry(_inputs(systems, runs), load_catalog(), load_regimes(), AS_OF)

    by_key = {r["system_key"]: r for r in result.systems.iter_rows(named=True)}
    assert by_key["4"]["training_flop_central"] == pytest.approx(5e25)
    for key in ("1", "2", "3"):
        assert by_key[key]["training_flop_central"] is None

    flags = result.evaluation.flags.with_columns(pl.col("reason").cast(pl.String), pl.col("status").cast(pl.String))
    eu = flags.filter(pl.col("regime_id").cast(pl.String) == "eu-aia-gpaisr-presumption")
    status = {r["subject_key"]: (r["status"], r["reason"]) for r in eu.iter_rows(named=True)}
    assert status["4"] == ("above", None)
    assert status["1"] == ("unknown", "lineage cycle: a -> b -> a")
    assert status["2"] == ("unknown", "lineage cycle: a -> b -> a")  # one text per cycle
    assert status["3"] == ("unknown", "base lineage has a lineage cycle: a -> b -> a")
    aside = flags.filter(pl.col("subject_key").is_in(["1", "2", "3"]))
    assert aside.get_column("status").unique().to_list() == ["unknown"]
    assert result.set_aside.get_column("system_key").sort().to_list() == ["1", "2", "3"]


def test_another_providers_system_on_the_cycle_is_not_named() -> None:
    systems = [("1", 1, "mine", "2"), ("2", 2, "theirs-secret", "1")]
    result = compute_registry(_inputs(systems, [_run("1", 1e24), _run("2", 1e24)]), load_catalog(),
                              load_regimes(), AS_OF)
    reasons = dict(result.set_aside.select("system_key", "reason").iter_rows())
    assert reasons["1"] == "lineage cycle: mine -> another provider's system -> mine"
    assert "mine" not in reasons["2"] and "theirs-secret" in reasons["2"]


def test_a_self_based_system_is_set_aside_with_a_bounded_reason() -> None:
    long_name = "x" * 200
    result = compute_registry(_inputs([("1", 1, long_name, "1")], [_run("1", 1e24)]), load_catalog(),
                              load_regimes(), AS_OF)
    reason = result.set_aside.get_column("reason")[0]
    assert reason.startswith("lineage cycle: xxx") and len(reason) == 255


def test_records_at_every_extreme_are_evaluated_without_stopping_the_others() -> None:
    """Stored records filing would refuse today (dates at the calendar's ends, infinite or negative
    compute, unknown accelerators and precisions, inverted periods) still evaluate, with everyone else."""
    systems = [(str(i), 1, f"s{i}", None) for i in range(1, 9)]
    runs = [
        {"run_key": "1", "system_key": "1", "status": "in_progress", "start_date": date(1, 1, 1),
         "end_date": date(9999, 12, 31), "reported_flop": 3e25},
        {"run_key": "2", "system_key": "2", "status": "planned", "start_date": date(9999, 12, 30),
         "end_date": date(9999, 12, 31), "reported_flop": 1e300},
        {"run_key": "3", "system_key": "3", "end_date": date(9999, 12, 31), "reported_flop": float("inf")},
        {"run_key": "4", "system_key": "4", "accelerator": "nonsense", "accelerator_count": 1e12,
         "training_hours": 1e12, "precision": "fp3"},
        {"run_key": "5", "system_key": "5", "parameters": 1e300, "training_tokens": 1e300, "end_date": date(1, 1, 1)},
        {"run_key": "6", "system_key": "6", "status": "weird", "stage": "bogus", "reported_flop": -5.0},
        {"run_key": "7", "system_key": "7", "status": "in_progress", "start_date": date(2026, 1, 1),
         "end_date": date(2026, 1, 1), "reported_flop": 2e25},
        _run("8", 5e25),
    ]
    inputs = _inputs(systems, runs)
    usage = pl.DataFrame([
        {"system_key": "1", "period_start": date(1, 1, 1), "period_end": date(9999, 12, 31), "input_tokens": 1e300,
         "output_tokens": float("inf")},
        {"system_key": "2", "period_start": date(9999, 12, 31), "period_end": date(1, 1, 1), "output_tokens": 1e12,
         "accelerator": "bogus", "accelerator_hours": 1e300}], schema_overrides=USAGE_SCHEMA)
    inputs = RegistryInputs(systems=inputs.systems, runs=inputs.runs, usage=frame(usage.to_dicts(), USAGE_SCHEMA),
                            clusters=frame([{"cluster_key": "cluster:9", "provider": "p1", "provider_id": 1,
                                              "accelerator": "bogus", "accelerator_count": 1e300}], CLUSTER_SCHEMA),
                            previous_flags=inputs.previous_flags)
    for as_of in (AS_OF, date(9999, 12, 31)):
        result = compute_registry(inputs, load_catalog(), load_regimes(), as_of)
        eu = result.evaluation.flags.filter(pl.col("regime_id").cast(pl.String) == "eu-aia-gpaisr-presumption")
        assert eu.height == 8
        assert eu.filter(pl.col("subject_key") == "8").get_column("status").cast(pl.String).item() == "above"


def test_the_calculator_says_why_a_looping_file_is_not_estimated() -> None:
    from tracker.filing.parse import parse_disclosure
    from tracker.registry.calculator import estimate_file

    catalog = load_catalog()
    parsed = parse_disclosure(b"system,run_id,base_system,reported_flop\na,r1,b,1e24\nb,r2,a,1e24\nc,r3,,3e25\n",
                              "runs.csv", "training_runs", catalog)
    report = estimate_file("training_runs", parsed.records, catalog, load_regimes(), AS_OF)
    assert report["notes"] == ["a: not estimated, lineage cycle: a -> b -> a",
                               "b: not estimated, lineage cycle: a -> b -> a"]
    by_name = {s["system"]: s for s in report["systems"]}
    assert by_name["a"]["training_flop"] is None and by_name["c"]["training_flop"]["central"] == pytest.approx(3e25)
