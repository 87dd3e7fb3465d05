"""The accuracy benchmark's own logic on small hand-made tables: how an Epoch row becomes a
disclosure, which quantity each row is compared as, and how misses are labelled. One test runs
the real Epoch table (skipped where it is absent). No timing assertions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import polars as pl
import pytest

from bench import accuracy

EPOCH_FILE = next((p for p in (accuracy.DEFAULT_PATH, accuracy.FALLBACK_PATH) if p.exists()), None)


def _numbers(values: list[str | None]) -> list[float | None]:
    return pl.DataFrame({"x": values}, schema={"x": pl.String}).select(accuracy.cell_number("x"))["x"].to_list()


def test_cell_number_reads_epoch_multi_valued_and_separated_cells() -> None:
    got = _numbers(["3.8e+25", "929000,929000", "2590000000000,2592000000000", "327978752,192851506176",
                    "1,200", "12,345,678", " 42 ", None, "n/a"])
    assert got[0] == 3.8e25
    assert got[1] == 929000.0
    # Values within 1% of each other are one figure repeated per linked record: the first is kept,
    # never the glued 2.59e25 the old comma-stripping parser produced.
    assert got[2] == 2590000000000.0
    assert got[3] is None  # disagreeing values: ambiguous, not filed
    assert got[4] == 1200.0
    assert got[5] == 12345678.0
    assert got[6] == 42.0
    assert got[7] is None
    assert got[8] is None


@pytest.mark.parametrize(
    ("model", "total", "notes", "active"),
    [
        ("A", "456000000000", "Total Parameters: 456B Activated Parameters per Token: 45.9B", 45.9e9),
        ("B", "300000000000", "MoE total parameters: 300B active parameters: 47B", 47e9),
        ("C", "142000000000", "an MoE model that activates 14 billion parameters out of a total of 142 billion", 14e9),
        ("D", "671000000000", "671B total, 37B active", 37e9),
        ("E", "16400000000", "comprises 16B parameters and 957M activations", 957e6),
        ("F", "60800000000", "16x3.8B parameters with 6.6B active parameters when using 2 experts", 6.6e9),
        ("G", "314000000000", "MoE model with 25% of the weights active on a given token", 78.5e9),
        ("H", "1000000000000", "Total Parameters\t1T Activated Parameters\t32B", 32e9),
        ("Qwen3-30B-A3B", "30000000000", None, 3e9),
        ("I", "540000000000", "a 540-billion parameter, densely activated, Transformer", None),
        ("J", "7000000000", "7B active", None),  # not below the total: not an active count
    ],
)
def test_active_parameters_phrasings(model: str, total: str, notes: str | None, active: float | None) -> None:
    frame = pl.DataFrame({"Model": [model], "Parameters": [total], "Parameters notes": [notes]},
                         schema={"Model": pl.String, "Parameters": pl.String, "Parameters notes": pl.String})
    got = frame.select(accuracy.active_parameters())["active_parameters"][0]
    if active is None:
        assert got is None
    else:
        assert got == pytest.approx(active)


def _row(model: str, flop: float, **cells: str | None) -> dict[str, str | None]:
    return {"Model": model, "Training compute (FLOP)": repr(flop), "Confidence": "Confident", **cells}


LM = {"Domain": "Language", "Training compute estimation method": "Operation counting"}
# 6 x 1e9 x 1e12 = 6e21 by operation counting.
BASE = _row("Base", 6e21, Parameters="1000000000", **{"Training dataset size (total)": "1000000000000"}, **LM)


def _table(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    columns = sorted({k for r in rows for k in r})
    raw = pl.DataFrame([{c: r.get(c) for c in columns} for r in rows], schema={c: pl.String for c in columns})
    return accuracy.prepare_rows(raw)


def test_row_becomes_the_disclosure_a_provider_would_file() -> None:
    rows = _table([
        BASE,
        _row("FT", 6.6e21, **{"Base model": "Base", "Finetune compute (FLOP)": "6e20", "Parameters": "1000000000",
                              "Training dataset size (total)": "50000000000", "Epochs": "2", **LM}),
        _row("Orphan", 1e22, **{"Base model": "Somewhere else", "Training hardware": "NVIDIA H100 SXM5 80GB",
                                "Hardware quantity": "8", "Training time (hours)": "100", "Numerical format": "FP8",
                                "Hardware utilization (MFU)": "38", "Domain": "Vision",
                                "Finetune compute (FLOP)": "2e21",
                                "Training compute estimation method": "Reported,Hardware"}),
        _row("Disclosed", 3.8e25, **{"Training compute estimation method": "Reported", "Domain": "Language"}),
    ])
    runs, systems = accuracy.to_disclosures(rows)
    by = {r["run_key"]: r for r in runs.iter_rows(named=True)}
    base, ft, orphan, disclosed = by["Base"], by["FT"], by["Orphan"], by["Disclosed"]
    assert base["stage"] == "pretraining" and base["base_system_key"] is None
    assert base["training_tokens"] == 1e12 and base["reported_flop"] is None
    # Lineage from `Base model`; the fine-tune files its own compute (Epoch's Finetune column) and
    # tokens seen = dataset size x epochs.
    assert ft["base_system_key"] == "Base" and ft["stage"] == "fine_tuning" and ft["base_in_table"]
    assert ft["reported_flop"] == 6e20 and ft["training_tokens"] == 1e11
    assert ft["base_epoch_flop"] == 6e21
    # A base outside the table is still named (the engine then knows the lineage is incomplete);
    # a fine-tune files its own compute, never Epoch's cumulative figure; a non-language row files
    # no tokens; MFU in percent becomes a fraction; a figure Epoch marks Reported is filed as is.
    assert orphan["base_system_key"] == "Somewhere else" and not orphan["base_in_table"]
    assert orphan["reported_flop"] == 2e21
    assert orphan["training_tokens"] is None
    assert orphan["precision"] == "fp8" and orphan["utilization"] == pytest.approx(0.38)
    assert orphan["accelerator"] == "NVIDIA H100 SXM5" and orphan["accelerator_count"] == 8.0
    assert disclosed["reported_flop"] == 3.8e25 and disclosed["base_system_key"] is None
    assert systems.height == 4


def test_each_row_is_compared_as_the_quantity_epoch_measured() -> None:
    rows = _table([
        BASE,
        # Epoch's figure = base + fine-tune: cumulative against cumulative.
        _row("Cumulative", 6.6e21, **{"Base model": "Base", "Finetune compute (FLOP)": "6e20", **LM}),
        # Epoch's figure is far below its base's own figure: not cumulative over it, reported apart.
        _row("BelowBase", 6e20, **{"Base model": "Base", "Finetune compute (FLOP)": "6e20", **LM}),
        _row("Orphan", 1e22, **{"Base model": "Not in table", "Finetune compute (FLOP)": "1e20", **LM}),
        _row("Merged", 1e22, **{"Base model": "Not in table,Nor this", "Finetune compute (FLOP)": "1e20", **LM}),
        # In the table, but with nothing to estimate it from; and a fine-tune on top of it.
        _row("Bare", 5e21, **LM),
        _row("OnBare", 5.5e21, **{"Base model": "Bare", "Finetune compute (FLOP)": "5e20", **LM}),
        # No inputs of its own: its base's estimate says nothing about it.
        _row("NoInputs", 7e21, **{"Base model": "Base", **LM}),
    ])
    joined, cycles = accuracy.estimate(rows)
    assert cycles == []
    by = {r["run_key"]: r for r in joined.iter_rows(named=True)}
    assert by["Base"]["basis"] == "cumulative"
    assert by["Cumulative"]["basis"] == "cumulative"
    assert by["Cumulative"]["ours_central"] == pytest.approx(6.6e21, rel=0.01)
    assert by["Cumulative"]["own_central"] == pytest.approx(6e20, rel=0.01)
    assert by["BelowBase"]["basis"] == "apart"
    assert by["BelowBase"]["apart_reason"] == "Epoch figure below its base's own Epoch figure"
    assert by["Orphan"]["apart_reason"] == "base model not in the table"
    assert by["Merged"]["apart_reason"] == "several base models (lineage holds one)"
    assert by["Bare"]["basis"] == "no inputs"
    assert by["OnBare"]["apart_reason"] == "base model (or an ancestor) without method inputs"
    assert by["NoInputs"]["basis"] == "no inputs"
    # An unknown base leaves the lineage incomplete: never classified below a threshold.
    assert not by["Orphan"]["lineage_complete"]


def _miss_frame(**overrides: object) -> pl.DataFrame:
    row: dict[str, object] = {
        "architecture_flop_central": None, "epoch_flop": 1e22, "methods": ["hardware"],
        "base_training_flop_central": None, "base_epoch_flop": None, "base_in_table": False,
        "moe_mentioned": False, "active_parameters": None, "precision": None,
        "hardware_name": "NVIDIA H100", "accelerator": "NVIDIA H100 SXM5",
    }
    row.update(overrides)
    return pl.DataFrame([row], schema_overrides={"methods": pl.List(pl.String)})


@pytest.mark.parametrize(
    ("overrides", "cause"),
    [
        ({}, "precision unknown"),
        ({"precision": "bf16"}, "other"),
        ({"precision": "bf16", "accelerator": None}, "unknown hardware"),
        ({"methods": ["architecture"], "architecture_flop_central": 1e20}, "dataset size is not tokens seen"),
        ({"methods": ["architecture"], "architecture_flop_central": 1.5e22}, "other"),
        ({"methods": ["architecture"], "architecture_flop_central": 9e22, "moe_mentioned": True},
         "active parameters not in the table"),
        ({"methods": ["architecture"], "architecture_flop_central": 9e22, "moe_mentioned": True,
          "active_parameters": 1e9}, "dataset size is not tokens seen"),
        ({"base_in_table": True, "base_training_flop_central": 1e20, "base_epoch_flop": 1e21},
         "base model's estimate misses"),
    ],
)
def test_miss_cause(overrides: dict[str, object], cause: str) -> None:
    assert _miss_frame(**overrides).select(accuracy.miss_cause().alias("cause"))["cause"][0] == cause


def test_run_writes_contract_document_and_keeps_apart_rows_out_of_overall(tmp_path: Path) -> None:
    rows = [
        BASE,
        _row("Cumulative", 6.6e21, **{"Base model": "Base", "Finetune compute (FLOP)": "6e20", **LM}),
        _row("Orphan", 1e22, **{"Base model": "Not in table", "Finetune compute (FLOP)": "1e19", **LM}),
        _row("Far", 1e24, Parameters="1000000000", **{"Training dataset size (total)": "1000000000000"}, **LM),
    ]
    columns = sorted({k for r in rows for k in r})
    csv = tmp_path / "models.csv"
    pl.DataFrame([{c: r.get(c) for c in columns} for r in rows], schema={c: pl.String for c in columns}).write_csv(csv)
    out = tmp_path / "accuracy.json"
    assert accuracy.main(["--path", str(csv), "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    keys = {"rows_compared", "share_within_30pct", "share_within_2x", "median_ratio", "interval_coverage"}
    for block in ("hardware", "architecture", "reported", "overall"):
        assert keys <= set(doc[block]) and keys <= set(doc[block]["confident"])
    assert doc["name"] == "accuracy" and isinstance(doc["meets_target"], bool)
    assert doc["overall"]["rows_compared"] == 3  # Base, Cumulative, Far; Orphan apart
    assert doc["overall"]["share_within_2x"] == pytest.approx(2 / 3, abs=1e-4)
    assert doc["fine_tune_only_reported_apart"]["rows_compared"] == 1
    assert doc["rows_reported_apart_by_reason"] == {"base model not in the table": 1}
    assert [m["model"] for m in doc["misses"]] == ["Far"]
    assert doc["misses"][0]["cause"] == "dataset size is not tokens seen"
    assert math.isclose(doc["misses"][0]["ratio"], 0.006)


def test_missing_file_skips_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "accuracy.json"
    assert accuracy.main(["--path", str(tmp_path / "absent.csv"), "--out", str(out)]) == 0
    assert "skipping accuracy benchmark" in capsys.readouterr().out
    assert not out.exists()


@pytest.mark.skipif(EPOCH_FILE is None, reason="Epoch AI all_ai_models.csv not found (../shared/data/epoch/)")
def test_real_epoch_table_every_miss_has_a_known_cause_and_no_row_is_unsafe() -> None:
    assert EPOCH_FILE is not None
    doc = accuracy.run(EPOCH_FILE)
    known = {"base model's estimate misses", "active parameters not in the table", "dataset size is not tokens seen",
             "precision unknown", "unknown hardware", "other"}
    assert doc["overall"]["rows_compared"] > 500
    assert {m["cause"] for m in doc["misses"]} <= known
    assert sum(doc["misses_by_cause"].values()) == len(doc["misses"])
    assert doc["threshold_violations"] == []
    basis = doc["rows_by_basis"]
    assert sum(basis.values()) == doc["rows_in_table_with_compute"]
    assert basis["cumulative"] >= doc["overall"]["rows_compared"]
