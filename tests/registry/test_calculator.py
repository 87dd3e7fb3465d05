"""The calculator (`tracker estimate`) on worked public figures and the demo's edge cases."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from tracker.catalog.accelerators import load_catalog
from tracker.filing.parse import parse_disclosure
from tracker.regimes.load import load_regimes
from tracker.registry.calculator import estimate_file

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
AS_OF = date(2026, 11, 27)


def _estimate(csv_text: str, kind: str = "training_runs", as_of: date = AS_OF) -> dict:
    catalog = load_catalog()
    parsed = parse_disclosure(csv_text.encode(), "f.csv", kind, catalog)
    return estimate_file(kind, parsed.records, catalog, load_regimes(), as_of)


def _flag(system: dict, regime: str) -> dict:
    return next(f for f in system["flags"] if f["regime"] == regime)


def test_llama_405b_lands_within_30_percent_of_its_reported_figure() -> None:
    report = _estimate((SAMPLES / "meta__training_runs.csv").read_text())
    llama = next(s for s in report["systems"] if s["system"] == "Llama 3.1 405B")
    central = llama["training_flop"]["central"]
    assert abs(central / 3.8e25 - 1) < 0.3
    assert llama["training_flop"]["low"] <= central <= llama["training_flop"]["high"]
    assert llama["methods"] == ["architecture", "hardware", "reported"]
    assert llama["provider"] is None and "inference_flop_30d" not in llama
    eu = _flag(llama, "eu-aia-gpaisr-presumption")
    assert eu["status"] == "above" and eu["threshold"] == 1e25 and eu["projected"] is False
    # Crossed before the AI Act applied (2025-08-02): the 14-day clock runs from that date.
    assert eu["deadline"] == "2025-08-16"
    assert _flag(llama, "us-ca-sb53-frontier-model")["status"] == "below"


def test_gpt3_hardware_and_architecture_agree_with_the_reported_figure() -> None:
    report = _estimate((SAMPLES / "openai__training_runs.csv").read_text())
    gpt3 = report["systems"][0]
    assert abs(gpt3["training_flop"]["central"] / 3.14e23 - 1) < 0.3
    assert gpt3["version"] == "davinci"


def test_in_progress_run_is_a_projected_crossing_with_a_clock_from_today() -> None:
    report = _estimate((SAMPLES / "demo-frontier__training_runs.csv").read_text())
    one = next(s for s in report["systems"] if s["system"] == "Frontier One")
    eu = _flag(one, "eu-aia-gpaisr-presumption")
    assert eu["projected"] is True and eu["status"] == "above"
    # EU Art. 52(1): notify within two weeks of knowing the threshold will be met.
    assert eu["deadline"] == (AS_OF + timedelta(days=14)).isoformat()
    edge = next(s for s in report["systems"] if s["system"] == "Frontier Edge")
    lite = next(s for s in report["systems"] if s["system"] == "Frontier Lite")
    assert _flag(edge, "eu-aia-gpaisr-presumption")["status"] == "likely_above"
    assert _flag(lite, "eu-aia-gpaisr-presumption")["status"] == "likely_below"


def test_fine_tune_adds_its_base_when_the_base_is_in_the_file() -> None:
    text = (SAMPLES / "meta__training_runs.csv").read_text()
    tune = (SAMPLES / "demo-downstream__training_runs.csv").read_text().splitlines()[1]
    report = _estimate(text + tune + "\n")
    systems = {s["system"]: s for s in report["systems"]}
    base, legal = systems["Llama 3.1 405B"], systems["Llama 405B Legal"]
    assert legal["training_flop"]["central"] > base["training_flop"]["central"]
    assert "notes" not in report


def test_missing_base_is_noted_and_never_called_below() -> None:
    tune = (SAMPLES / "demo-downstream__training_runs.csv").read_text()
    report = _estimate(tune)
    assert any("Llama 3.1 405B" in note for note in report["notes"])


@pytest.mark.parametrize("sample", ["meta__inference_usage.csv"])
def test_usage_file_reports_inference_over_its_last_30_days(sample: str) -> None:
    report = _estimate((SAMPLES / sample).read_text(), kind="inference_usage")
    by_name = {s["system"]: s for s in report["systems"]}
    # 70B has no parameters in a usage file and no fleet hours: no method applies.
    llama405 = by_name["Llama 3.1 405B"]["inference_flop_30d"]
    assert llama405 is not None
    # 2.5M H100-hours x 3600 x 989.4e12 x 0.1 filed utilization.
    assert llama405["central"] == pytest.approx(2.5e6 * 3600 * 989.4e12 * 0.1, rel=0.35)


def test_cli_estimate_prints_contract_json_and_rejects_bad_files(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "tracker", "estimate", str(SAMPLES / "meta__training_runs.csv"),
                          "--kind", "training_runs"], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["methodology_version"] and len(data["systems"]) == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("system,run_id,accelerator,accelerator_count,training_hours\nX,a,H100,-8,10\n")
    rejected = subprocess.run([sys.executable, "-m", "tracker", "estimate", str(bad), "--kind", "training_runs"],
                              capture_output=True, text=True, check=False)
    assert rejected.returncode == 2
    assert "row 1, accelerator_count: -8 is negative" in rejected.stderr
    assert "Traceback" not in rejected.stderr
    assert pl.Series(rejected.stderr.splitlines()).str.starts_with("row ").all()
