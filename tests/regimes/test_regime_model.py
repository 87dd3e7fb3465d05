from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from tracker.regimes.model import ALL_STAGES, DateWindow, Regime


def entry(**fields: Any) -> dict[str, Any]:
    return {
        "id": "xx-test",
        "jurisdiction": "XX",
        "instrument": "notice",
        "status": {"state": "in_force"},
        "subject": "AI model",
        "metric": "training_flop_cumulative",
        "comparator": "gt",
        "threshold": 1e25,
        "obligation": "notify",
        **fields,
    }


def test_window_includes_its_first_day_and_excludes_its_until_day() -> None:
    window = DateWindow.model_validate({"from": date(2023, 10, 30), "until": date(2025, 1, 20)})
    assert not window.contains(date(2023, 10, 29))
    assert window.contains(date(2023, 10, 30))
    assert window.contains(date(2025, 1, 19))
    assert not window.contains(date(2025, 1, 20))


def test_window_must_end_after_it_starts() -> None:
    with pytest.raises(ValidationError, match="'until' must be after 'from'"):
        DateWindow.model_validate({"from": date(2025, 1, 20), "until": date(2025, 1, 20)})


def test_in_force_window_and_alerts_are_derived_from_the_status_when_absent() -> None:
    regime = Regime.model_validate(
        entry(status={"state": "in_force", "effective": date(2026, 1, 22)})
    )
    assert regime.phase_on(date(2026, 1, 21)) == "inactive"
    assert regime.phase_on(date(2026, 1, 22)) == "in_force"
    assert regime.alerts is True


def test_proposed_text_is_informational_from_publication_and_never_alerts() -> None:
    regime = Regime.model_validate(
        entry(status={"state": "proposed", "published": date(2024, 9, 11)})
    )
    assert regime.phase_on(date(2024, 9, 10)) == "inactive"
    assert regime.phase_on(date(2024, 9, 11)) == "informational"
    assert regime.alerts is False


def test_vetoed_text_without_explicit_windows_is_never_evaluated() -> None:
    regime = Regime.model_validate(entry(status={"state": "vetoed", "vetoed": date(2024, 9, 29)}))
    assert regime.phase_on(date(2024, 9, 1)) == "inactive"
    assert regime.alerts is False


def test_counting_defaults_to_every_stage_without_planned_compute() -> None:
    regime = Regime.model_validate(entry())
    assert regime.counting.stages == ALL_STAGES and regime.counting.planned_counts is False


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"comparator": "none"}, "comparator 'none' needs threshold null"),
        (
            {"metric": "qualitative", "comparator": "gt"},
            "metric 'qualitative' needs comparator 'none'",
        ),
        ({"threshold": 0}, "threshold must be > 0"),
        ({"reference_flop": 1e27}, "reference_flop is only for metric 'relative_to_largest_run'"),
        (
            {"metric": "cluster_peak_ops_per_s", "applies_to": "original_providers"},
            "cluster metrics need applies_to 'all'",
        ),
        ({"counting": {"stages": []}}, "list at least one stage"),
        ({"counting": {"stages": ["pre-training"]}}, "pretraining"),
        ({"obligations_detail": [{"what": "report", "deadline": "72 hours"}]}, "ISO 8601"),
    ],
)
def test_inconsistent_entries_are_rejected(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Regime.model_validate(entry(**fields))


def test_qualitative_regime_is_unknown_until_a_regulator_threshold_is_set() -> None:
    regime = Regime.model_validate(
        entry(metric="qualitative", comparator="none", threshold=None, regulator_threshold=None)
    )
    assert regime.effective_threshold is None and regime.unknown_reason is not None
    configured = Regime.model_validate(
        entry(
            metric="qualitative",
            comparator="none",
            threshold=None,
            regulator_threshold={
                "metric": "inference_flop_30d",
                "comparator": "gt",
                "threshold": 1e26,
            },
        )
    )
    assert configured.effective_metric == "inference_flop_30d"
    assert configured.effective_comparator == "gt" and configured.effective_threshold == 1e26
    assert configured.unknown_reason is None
