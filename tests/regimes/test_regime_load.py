from datetime import date
from pathlib import Path

import polars as pl
import pytest

from tracker.regimes.load import RegimeFileError, load_regimes, parse_regimes, regimes_frame

REQUIRED_IDS = {
    "eu-aia-gpaisr-presumption",
    "eu-gl-gpai-indicative",
    "eu-gl-modifier-relative",
    "eu-gl-modifier-fallback-systemic",
    "eu-gl-modifier-fallback-gpai",
    "us-eo14110-model",
    "us-eo14110-bio",
    "us-eo14110-cluster",
    "us-bis-nprm-training-run",
    "us-bis-nprm-cluster",
    "us-ca-sb53-frontier-model",
    "us-ny-raise-amended-frontier-model",
    "kr-aibasic-safety",
    "cn-tc260-registration",
}

CUSTOM = """
regimes:
  - id: xx-inference-serving
    jurisdiction: XX
    instrument: "Regulator notice 1/2026"
    status: {state: in_force, effective: 2026-06-01}
    subject: AI system
    metric: inference_flop_30d
    comparator: gte
    threshold: 1.0e+26
    obligation: notify
    deadline: P10D
    deadline_calendar: working_days
"""


def write(tmp_path: Path, text: str, name: str = "custom.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_file_keeps_every_reference_id_and_loads_cleanly() -> None:
    regimes = load_regimes()
    ids = [regime.id for regime in regimes]
    assert REQUIRED_IDS <= set(ids)
    assert len(ids) == len(set(ids)) == 28


def test_shipped_comparators_and_thresholds() -> None:
    by_id = {regime.id: regime for regime in load_regimes()}
    assert (
        by_id["eu-aia-gpaisr-presumption"].comparator,
        by_id["eu-aia-gpaisr-presumption"].threshold,
    ) == ("gt", 1e25)
    assert (by_id["kr-aibasic-safety"].comparator, by_id["kr-aibasic-safety"].threshold) == (
        "gte",
        1e26,
    )
    assert by_id["eu-gl-gpai-indicative"].metric == "training_flop_param_updates"
    assert "synthetic_data" not in by_id["eu-gl-gpai-indicative"].counting.stages
    assert "synthetic_data" in by_id["eu-aia-gpaisr-presumption"].counting.stages
    assert by_id["eu-aia-gpaisr-presumption"].counting.planned_counts
    assert by_id["eu-gl-modifier-fallback-systemic"].threshold == pytest.approx(1e25 / 3)
    assert by_id["eu-gl-modifier-fallback-gpai"].threshold == pytest.approx(1e23 / 3)
    assert by_id["eu-gl-modifier-relative"].threshold == pytest.approx(1 / 3)
    tc260 = by_id["cn-tc260-registration"]
    assert tc260.threshold is None and tc260.regulator_threshold is None
    assert tc260.unknown_reason is not None and "regulator" in tc260.unknown_reason


def test_rescinded_and_proposed_regimes_never_alert() -> None:
    by_id = {regime.id: regime for regime in load_regimes()}
    for regime_id in ("us-eo14110-model", "us-eo14110-cluster", "us-bis-nprm-training-run"):
        assert by_id[regime_id].alerts is False
    assert by_id["us-eo14110-model"].in_force is not None
    assert by_id["us-eo14110-model"].in_force.until == date(2025, 1, 20)
    assert by_id["us-ny-raise-amended-frontier-model"].alerts is True


def test_custom_regime_file_adds_regimes_and_derives_its_window(tmp_path: Path) -> None:
    regimes = load_regimes(extra=[write(tmp_path, CUSTOM)])
    custom = regimes[-1]
    assert custom.id == "xx-inference-serving"
    assert custom.in_force is not None and custom.in_force.start == date(2026, 6, 1)
    assert custom.alerts is True
    assert custom.phase_on(date(2026, 5, 31)) == "inactive"
    assert custom.phase_on(date(2026, 6, 1)) == "in_force"


def test_regulator_threshold_is_configured_from_an_operator_file(tmp_path: Path) -> None:
    operator = write(
        tmp_path,
        "regulator_thresholds:\n"
        "  cn-tc260-registration: {metric: training_flop_cumulative, comparator: gte, threshold: 1.0e+25}\n",
    )
    tc260 = {r.id: r for r in load_regimes(extra=[operator])}["cn-tc260-registration"]
    assert tc260.threshold is None  # the text still has no number
    assert (tc260.effective_metric, tc260.effective_comparator, tc260.effective_threshold) == (
        "training_flop_cumulative",
        "gte",
        1e25,
    )
    assert tc260.unknown_reason is None


def test_regulator_threshold_refused_where_the_text_has_a_number(tmp_path: Path) -> None:
    operator = write(
        tmp_path,
        "regulator_thresholds:\n"
        "  kr-aibasic-safety: {metric: training_flop_cumulative, comparator: gte, threshold: 1.0e+25}\n",
    )
    with pytest.raises(
        RegimeFileError, match=r"'kr-aibasic-safety'.*only for regimes whose threshold is null"
    ):
        load_regimes(extra=[operator])


def test_error_names_the_regime_the_field_and_what_is_expected(tmp_path: Path) -> None:
    bad = write(tmp_path, CUSTOM.replace("comparator: gte", "comparator: '>='"))
    with pytest.raises(RegimeFileError) as error:
        load_regimes(extra=[bad])
    message = str(error.value)
    assert "custom.yaml" in message
    assert "regime 'xx-inference-serving'" in message
    assert "field 'comparator'" in message
    assert "'gt', 'gte' or 'none'" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("deadline: P10D", "deadline: 10 days"), "field 'deadline'.*expected e.g. P14D"),
        (("    obligation: notify\n", ""), "field 'obligation' is required"),
        (
            ("obligation: notify", "obligation: notify\n    obligaton: notify"),
            "field 'obligaton' is not a known field",
        ),
        (("threshold: 1.0e+26", "threshold: null"), "comparator 'gte' needs a numeric threshold"),
        (("metric: inference_flop_30d", "metric: inference_flops"), "field 'metric'"),
        (("deadline: P10D", "deadline: P1M"), "working-day deadline must be whole days"),
        (("state: in_force", "state: enforced"), "field 'status.state'"),
    ],
)
def test_invalid_entries_are_reported_clearly(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in CUSTOM
    with pytest.raises(RegimeFileError, match=expected):
        load_regimes(extra=[write(tmp_path, CUSTOM.replace(old, new))])


def test_duplicate_id_across_files_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RegimeFileError, match="'xx-inference-serving': id used twice"):
        load_regimes(extra=[write(tmp_path, CUSTOM, "a.yaml"), write(tmp_path, CUSTOM, "b.yaml")])


def test_requires_must_name_a_known_regime(tmp_path: Path) -> None:
    text = CUSTOM.replace("obligation: notify", "obligation: notify\n    requires: [xx-missing]")
    with pytest.raises(RegimeFileError, match="field 'requires' names unknown regime id"):
        load_regimes(extra=[write(tmp_path, text)])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("regimes: [\n", "not valid YAML"),
        ("- just a list\n", "expected a mapping"),
        ("regime: []\n", "unknown top-level key"),
        ("regimes: [plain-string]\n", "entry 1: expected a mapping"),
    ],
)
def test_file_level_problems(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(RegimeFileError, match=expected):
        load_regimes(extra=[write(tmp_path, text)])


def test_missing_file_is_a_regime_file_error(tmp_path: Path) -> None:
    with pytest.raises(RegimeFileError, match="cannot read"):
        load_regimes(tmp_path / "absent.yaml")


def test_parse_regimes_validates_entries_passed_in_memory() -> None:
    entry = {
        "id": "xx-relative",
        "jurisdiction": "XX",
        "instrument": "notice",
        "status": {"state": "in_force"},
        "subject": "AI model",
        "metric": "relative_to_largest_run",
        "comparator": "gte",
        "threshold": 0.1,
        "obligation": "notify",
    }
    (regime,) = parse_regimes([entry])
    assert regime.phase_on(date(2000, 1, 1)) == "in_force"  # in force with no start date: always
    with pytest.raises(RegimeFileError, match="regime 'xx-relative': field 'threshold'"):
        parse_regimes([{**entry, "threshold": "ten percent"}])


def test_regimes_frame_has_one_row_per_regime_with_engine_columns() -> None:
    regimes = load_regimes()
    frame = regimes_frame(regimes)
    assert frame.height == len(regimes)
    eu = frame.filter(pl.col("regime_id") == "eu-aia-gpaisr-presumption").row(0, named=True)
    assert eu["deadline_days"] == 14 and eu["deadline_months"] == 0
    assert eu["in_force_from"] == date(2025, 8, 2)
    cac = frame.filter(pl.col("regime_id") == "cn-cac-algorithm-filing").row(0, named=True)
    assert cac["deadline_working_days"] is True
