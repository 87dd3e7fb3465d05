"""ISO 8601 durations and notification deadlines (pure date arithmetic, no clock).

Regimes state their clocks as ISO 8601 durations (``P14D``, ``PT24H``, ``P0D``, ``P3M``) and the
recurring form ``R/P3M``. Anchors are dates, so a clock in hours is rounded *up* to whole days: a
24-hour clock that starts on a date can end on the next day at the latest. Working days are
Monday to Friday; public holidays differ per jurisdiction and are not modelled.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

DeadlineCalendar = Literal["calendar", "working_days"]

_SECONDS_PER_DAY = 86_400

_DURATION = re.compile(
    r"^(?P<recurring>R\d*/)?P(?!$)"
    r"(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?$"
)


@dataclass(frozen=True)
class IsoDuration:
    """A parsed ISO 8601 duration: calendar months, then days, then a time part in seconds."""

    months: int
    days: int
    seconds: int
    recurring: bool = False

    @property
    def whole_days(self) -> int:
        """Days plus the time part rounded up to whole days (anchors are dates)."""
        return self.days + math.ceil(self.seconds / _SECONDS_PER_DAY)


def parse_iso_duration(text: str) -> IsoDuration:
    """Parse ``P14D``, ``PT24H``, ``P0D``, ``P3M``, ``P1Y2M10DT2H``, ``R/P3M`` (integers only)."""
    match = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if match is None or text.strip() in {"PT", "R/PT"}:
        raise ValueError(
            f"{text!r} is not an ISO 8601 duration; expected e.g. P14D, PT24H, P0D, P3M or R/P3M"
        )
    part = {k: int(v) if v and v.isdigit() else 0 for k, v in match.groupdict().items()}
    return IsoDuration(
        months=12 * part["years"] + part["months"],
        days=7 * part["weeks"] + part["days"],
        seconds=3600 * part["hours"] + 60 * part["minutes"] + part["seconds"],
        recurring=match.group("recurring") is not None,
    )


def add_months(anchor: date, months: int) -> date:
    """Add calendar months, clamping to the month's last day (31 Jan + P1M = 28/29 Feb)."""
    month_index = anchor.month - 1 + months
    year, month = anchor.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(anchor.day, calendar.monthrange(year, month)[1]))


def add_working_days(anchor: date, working_days: int) -> date:
    """The date ``working_days`` Monday-to-Friday days after ``anchor`` (the anchor not counted).

    Counting starts the day after the anchor, so a clock anchored on a weekend ends on the same
    day as one anchored on the Friday before it.
    """
    if working_days < 0:
        raise ValueError("working_days must be >= 0")
    day, remaining = anchor, working_days
    # Whole weeks first, so long clocks do not step day by day.
    weeks, remaining = divmod(remaining, 5)
    if weeks and day.weekday() >= 5:
        day -= timedelta(days=day.weekday() - 4)  # same result as counting from the Friday
    day += timedelta(weeks=weeks)
    while remaining:
        day += timedelta(days=1)
        if day.weekday() < 5:
            remaining -= 1
    return day


def deadline_from(
    anchor: date, duration: IsoDuration | str, deadline_calendar: DeadlineCalendar = "calendar"
) -> date:
    """Deadline = anchor + duration; for a recurring clock (``R/P3M``) the first due date.

    Working-day clocks must be whole days (``P10D``); a month or hour part has no working-day
    meaning in the instruments we track.
    """
    parsed = parse_iso_duration(duration) if isinstance(duration, str) else duration
    if deadline_calendar == "working_days":
        if parsed.months or parsed.seconds:
            raise ValueError("a working-day deadline must be whole days, e.g. P10D")
        return add_working_days(anchor, parsed.days)
    return add_months(anchor, parsed.months) + timedelta(days=parsed.whole_days)
