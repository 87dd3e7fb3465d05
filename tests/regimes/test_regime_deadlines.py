from datetime import date, timedelta

import pytest

from tracker.regimes.deadlines import (
    IsoDuration,
    add_months,
    add_working_days,
    deadline_from,
    parse_iso_duration,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P14D", IsoDuration(months=0, days=14, seconds=0)),
        ("PT24H", IsoDuration(months=0, days=0, seconds=86_400)),
        ("P0D", IsoDuration(months=0, days=0, seconds=0)),
        ("P3M", IsoDuration(months=3, days=0, seconds=0)),
        ("P1Y", IsoDuration(months=12, days=0, seconds=0)),
        ("P2W", IsoDuration(months=0, days=14, seconds=0)),
        ("R/P3M", IsoDuration(months=3, days=0, seconds=0, recurring=True)),
        ("P1DT12H", IsoDuration(months=0, days=1, seconds=43_200)),
    ],
)
def test_parse_iso_duration(text: str, expected: IsoDuration) -> None:
    assert parse_iso_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "14D", "PT", "P1.5D", "P14d", "R/", "two weeks"])
def test_parse_rejects_non_iso_text_with_an_example_of_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match=r"expected e\.g\. P14D"):
        parse_iso_duration(text)


def test_hours_round_up_to_whole_days_because_anchors_are_dates() -> None:
    assert parse_iso_duration("PT24H").whole_days == 1
    assert parse_iso_duration("PT72H").whole_days == 3
    assert parse_iso_duration("PT25H").whole_days == 2


def test_eu_two_week_clock_in_calendar_days() -> None:
    assert deadline_from(date(2026, 11, 27), "P14D") == date(2026, 12, 11)


def test_zero_duration_is_the_anchor_itself() -> None:
    assert deadline_from(date(2026, 11, 28), "P0D") == date(2026, 11, 28)
    assert deadline_from(date(2026, 11, 28), "P0D", "working_days") == date(2026, 11, 28)


def test_months_clamp_to_the_last_day_of_the_month() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert deadline_from(date(2026, 11, 30), "P3M") == date(2027, 2, 28)


def test_recurring_clock_gives_the_first_due_date() -> None:
    assert deadline_from(date(2026, 1, 15), "R/P3M") == date(2026, 4, 15)


def test_ten_working_days_from_a_friday() -> None:
    assert add_working_days(date(2026, 11, 27), 10) == date(2026, 12, 11)
    assert deadline_from(date(2026, 11, 27), "P10D", "working_days") == date(2026, 12, 11)


def test_weekend_anchor_counts_from_the_next_monday() -> None:
    # Saturday: Mon 30 Nov is working day 1, so day 3 is Wednesday.
    assert add_working_days(date(2026, 11, 28), 3) == date(2026, 12, 2)
    assert add_working_days(date(2026, 11, 29), 10) == date(2026, 12, 11)


def test_working_days_agree_with_stepping_one_day_at_a_time() -> None:
    for offset in range(14):
        anchor = date(2026, 11, 23) + timedelta(days=offset)
        for count in range(0, 23):
            day, remaining = anchor, count
            while remaining:
                day += timedelta(days=1)
                remaining -= day.weekday() < 5
            assert add_working_days(anchor, count) == day, (anchor, count)


def test_working_day_clock_must_be_whole_days() -> None:
    with pytest.raises(ValueError, match="whole days"):
        deadline_from(date(2026, 11, 27), "PT24H", "working_days")
