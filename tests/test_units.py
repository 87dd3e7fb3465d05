"""tracker/units.py: the one way figures and dates are written for people."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from tracker import units

# What a person must never see: Python's or a spreadsheet's exponent notation.
CODE_NOTATION = re.compile(r"\d[eE][+-]?\d")


@pytest.mark.parametrize(("value", "text"), [
    (3.8e25, "3.8 × 10²⁵"),  # Llama 3.1 405B's reported pre-training compute
    (1e25, "1.0 × 10²⁵"),  # the EU AI Act's presumption (Art. 51(2))
    (1e26, "1.0 × 10²⁶"),
    (9.96e25, "1.0 × 10²⁶"),  # rounding carries into the exponent
    (-2.5e24, "-2.5 × 10²⁴"),
    (1.2e-5, "1.2 × 10⁻⁵"),  # negative exponents take a superscript minus
    (0.25, "2.5 × 10⁻¹"),
    (1e100, "1.0 × 10¹⁰⁰"),
    (0, "0"), (0.0, "0"),
    (None, "—"), (float("nan"), "—"),
    (float("inf"), "∞"), (float("-inf"), "-∞"),
])
def test_scientific_notation_uses_superscripts(value: float | None, text: str) -> None:
    assert units.format_scientific(value) == text


def test_superscript_digits_and_minus() -> None:
    assert units.superscript(25) == "²⁵" and units.superscript(-3) == "⁻³" and units.superscript(0) == "⁰"
    assert units.superscript(1234567890) == "¹²³⁴⁵⁶⁷⁸⁹⁰"


@pytest.mark.parametrize(("value", "text"), [
    (3.8e25, "3.8 × 10²⁵ FLOP"), (512, "512 FLOP"), (0, "0 FLOP"), (None, "—"),
    (float("inf"), "∞ FLOP"), (2.5e-4, "2.5 × 10⁻⁴ FLOP"), (999.6, "1,000 FLOP"),
])
def test_compute_carries_its_unit(value: float | None, text: str) -> None:
    assert units.format_flop(value) == text


def test_significant_figures_are_a_choice() -> None:
    assert units.format_flop(3.8123e25, digits=3) == "3.81 × 10²⁵ FLOP"
    assert units.format_flop(3.8e25, unit="") == "3.8 × 10²⁵"
    assert units.format_flop(1e26, unit="OP/s") == "1.0 × 10²⁶ OP/s"


@pytest.mark.parametrize(("value", "text"), [
    (1_000_000, "1,000,000"), (30_800_000.0, "30,800,000"), (405e9, "405,000,000,000"),
    (15.6e12, "1.56 × 10¹³"),  # Llama 3.1's training tokens: past a trillion, digits stop helping
    (999, "999"), (1234.5, "1,234"), (0.25, "0.25"), (1.5, "1.5"), (12.345, "12.3"), (0.0123, "0.0123"),
    (0.0001234, "1.23 × 10⁻⁴"), (-2_500_000, "-2,500,000"), (0, "0"), (7, "7"),
    (None, "—"), (float("nan"), "—"), (float("-inf"), "-∞"),
])
def test_plain_numbers_take_thousands_separators(value: float | None, text: str) -> None:
    assert units.format_number(value) == text


def test_intervals() -> None:
    assert units.format_interval(2.9e25, 4.9e25) == "2.9 × 10²⁵ – 4.9 × 10²⁵ FLOP"
    assert units.format_interval(None, 4.9e25) == "—" and units.format_interval(2.9e25, float("nan")) == "—"


@pytest.mark.parametrize(("metric", "value", "text"), [
    ("training_flop_cumulative", 1e25, "1.0 × 10²⁵ FLOP"),
    ("training_flop_param_updates", 1e25, "1.0 × 10²⁵ FLOP"),
    ("training_run_ops", 1e26, "1.0 × 10²⁶ FLOP"),
    ("modification_flop", 3.3e24, "3.3 × 10²⁴ FLOP"),
    (None, 3.8e25, "3.8 × 10²⁵ FLOP"),  # no metric: training compute
    ("inference_flop_30d", 2e25, "2.0 × 10²⁵ FLOP per 30 days"),  # a rate, never a training total
    ("cluster_peak_ops_per_s", 1e20, "1.0 × 10²⁰ OP/s"),
    ("cost_usd_training", 1e8, "100,000,000 USD"),
    ("revenue_usd_annual", 5e8, "500,000,000 USD"),
    ("users_mau", 45_000_000, "45,000,000 monthly active users"),
    ("users_registered", 1e6, "1,000,000 registered users"),  # 1e+06 in the regimes file
    ("registered_business_users", 10_000, "10,000 registered business users"),
    ("modification_flop_ratio", 0.33, "0.33 of the original's compute"),
    ("modification_flop_ratio", 0.00404, "0.00404 of the original's compute"),  # not 0.00, and not FLOP
    ("relative_to_largest_run", 0.1, "0.1 × the largest run"),
    ("training_flop", None, "—"), ("users_mau", float("nan"), "—"),
])
def test_metrics_in_their_own_units(metric: str | None, value: float | None, text: str) -> None:
    assert units.format_metric(value, metric) == text


@pytest.mark.parametrize(("metric", "unit"), [
    ("training_flop_cumulative", "FLOP"), (None, "FLOP"), ("inference_flop_30d", "FLOP per 30 days"),
    ("cluster_peak_ops_per_s", "OP/s"), ("cost_usd_training", "USD"), ("users_registered", "registered users"),
    ("modification_flop_ratio", ""), ("relative_to_largest_run", ""),
])
def test_every_metric_names_its_unit(metric: str | None, unit: str) -> None:
    assert units.metric_unit(metric) == unit


@pytest.mark.parametrize(("metric", "low", "high", "text"), [
    ("training_flop_cumulative", 2.9e25, 4.9e25, "3.8 × 10²⁵ FLOP (90% interval 2.9 × 10²⁵ – 4.9 × 10²⁵ FLOP)"),
    (None, 2.9e25, 4.9e25, "3.8 × 10²⁵ FLOP (90% interval 2.9 × 10²⁵ – 4.9 × 10²⁵ FLOP)"),
    ("inference_flop_30d", 2.9e25, 4.9e25,
     "3.8 × 10²⁵ FLOP per 30 days (90% interval 2.9 × 10²⁵ – 4.9 × 10²⁵ FLOP per 30 days)"),
    ("training_flop_cumulative", None, 4.9e25, "3.8 × 10²⁵ FLOP"),  # a bound unknown: the figure alone
    ("training_flop_cumulative", 3.8e25, 3.8e25, "3.8 × 10²⁵ FLOP"),  # no spread to show
    ("cluster_peak_ops_per_s", 2.9e25, 4.9e25, "3.8 × 10²⁵ OP/s"),  # a catalog peak, not an estimate
])
def test_an_estimate_carries_its_interval_in_the_same_unit(metric: str | None, low: float | None,
                                                           high: float | None, text: str) -> None:
    assert units.format_metric_estimate(3.8e25, low, high, metric) == text


def test_a_ratio_reads_alone() -> None:
    assert units.format_metric_estimate(0.33, 0.2, 0.5, "modification_flop_ratio") == "0.33 of the original's compute"


@pytest.mark.parametrize(("value", "text"), [
    (datetime(2026, 12, 4, 4, 5, 59), "2026-12-04 04:05 UTC"),  # naive values from the store are UTC
    (datetime(2026, 12, 4, 4, 5, tzinfo=UTC), "2026-12-04 04:05 UTC"),
    (datetime(2026, 12, 4, 5, 5, tzinfo=timezone(timedelta(hours=1))), "2026-12-04 04:05 UTC"),
    (datetime(2026, 12, 4, 23, 30, tzinfo=timezone(timedelta(hours=-5))), "2026-12-05 04:30 UTC"),
    (date(2026, 12, 4), "2026-12-04"),
    ("2026-12-04T04:05:00+00:00", "2026-12-04 04:05 UTC"),  # ISO text, as JSON carries it
    ("2026-12-04T04:05:00Z", "2026-12-04 04:05 UTC"),
    ("2026-12-04", "2026-12-04"),
    ("not a date", "not a date"), (None, "—"), ("", "—"),
])
def test_instants_read_in_utc(value: datetime | date | str | None, text: str) -> None:
    assert units.format_datetime(value) == text


@pytest.mark.parametrize(("value", "text"), [
    (date(2026, 12, 4), "2026-12-04"),
    (datetime(2026, 12, 4, 23, 30, tzinfo=timezone(timedelta(hours=-5))), "2026-12-05"),
    ("2026-12-04T04:05:00+00:00", "2026-12-04"), (None, "—"),
])
def test_days(value: datetime | date | str | None, text: str) -> None:
    assert units.format_date(value) == text


@pytest.mark.parametrize("value", [3.08e7, 3.7e25, 1e-9, 4.2e300, 123456789.0, 6.02e23])
def test_no_formatter_writes_code_notation(value: float) -> None:
    for text in (units.format_flop(value), units.format_number(value), units.format_scientific(value),
                 *(units.format_metric(value, metric) for metric in ("cost_usd_training", "users_mau",
                                                                     "inference_flop_30d", "modification_flop_ratio"))):
        assert not CODE_NOTATION.search(text), text
