"""compute_registry's own glue: which run is a system's newest (its declared base, its active
parameters). Estimation and evaluation have their own tests."""

from __future__ import annotations

from datetime import date

import polars as pl

from tests.registry.factories import registry_inputs
from tracker.catalog.accelerators import load_catalog
from tracker.regimes.load import load_regimes
from tracker.registry.compute import compute_registry
from tracker.registry.inputs import RegistryInputs

AS_OF = date(2026, 11, 27)


def _inputs(runs: list[dict[str, object]]) -> RegistryInputs:
    systems = [{"system_key": k, "provider_id": 1, "provider": "p", "name": f"m{k}", "version": "",
                "is_downstream_modifier": False} for k in ("1", "2", "3")]
    return registry_inputs(systems, runs)


def test_newest_run_is_the_greatest_row_id_not_the_greatest_text() -> None:
    # Store keys are row ids written as text: run 10 is newer than run 9 although "9" > "10".
    runs = [
        {"run_key": "1", "system_key": "1", "base_system_key": None, "reported_flop": 1e24},
        {"run_key": "2", "system_key": "2", "base_system_key": None, "reported_flop": 5e25},
        {"run_key": "9", "system_key": "3", "base_system_key": "1", "reported_flop": 1e22, "parameters": 7e9},
        {"run_key": "10", "system_key": "3", "base_system_key": "2", "reported_flop": 1e22, "parameters": 8e9},
    ]
    result = compute_registry(_inputs(runs), load_catalog(), load_regimes(), AS_OF)
    third = result.systems.filter(pl.col("system_key") == "3").row(0, named=True)
    assert third["base_training_flop_central"] == 5e25
    assert third["training_flop_central"] == 5e25 + 2e22
