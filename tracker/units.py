"""How figures and dates are written for people: one set of formatters for every page and CLI table.

Compute reads ``3.8 × 10²⁵ FLOP``: scientific notation with a multiplication sign and a superscript
exponent, never ``3.8e25`` or ``3.80e+25`` (which read as code, and as a formula in a spreadsheet).
Plain numbers take thousands separators (``1,000,000``); instants read ``2026-12-04 04:05 UTC`` and
days ``2026-12-04``. Machine outputs (JSON, CSV, XLSX, the API) keep numbers as numbers and dates
as ISO 8601: these functions are for text a person reads, and nothing parses their output.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

UNKNOWN = "—"
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
# Counts below this are written out in full (405,000,000,000 parameters); from here on the digits
# stop helping and scientific notation reads faster (1.56 × 10¹³ tokens).
_PLAIN_LIMIT = 1e12


def superscript(exponent: int) -> str:
    """``25`` as ``²⁵``, ``-3`` as ``⁻³``."""
    return str(exponent).translate(_SUPERSCRIPT)


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _with_unit(text: str, unit: str) -> str:
    return f"{text} {unit}" if unit else text


def _infinite(value: float) -> str:
    return "-∞" if value < 0 else "∞"


def format_scientific(value: float | None, *, digits: int = 2) -> str:
    """``value`` as ``3.8 × 10²⁵`` with ``digits`` significant figures; ``—`` when unknown."""
    if _missing(value):
        return UNKNOWN
    assert value is not None
    if math.isinf(value):
        return _infinite(value)
    if value == 0:
        return "0"
    sign = "-" if value < 0 else ""
    exponent = math.floor(math.log10(abs(value)))
    mantissa = round(abs(value) / 10**exponent, max(digits - 1, 0))
    if mantissa >= 10:  # 9.96 rounds up to 10.0: carry into the exponent
        mantissa /= 10
        exponent += 1
    return f"{sign}{mantissa:.{max(digits - 1, 0)}f} × 10{superscript(exponent)}"


def format_number(value: float | None, *, digits: int = 3) -> str:
    """A count, ratio or amount for reading: ``1,000,000``, ``0.25``, ``1.56 × 10¹³``; ``—`` when unknown.

    Whole numbers up to a trillion are written in full with thousands separators; smaller
    fractions keep ``digits`` significant figures; very large and very small values go scientific."""
    if _missing(value):
        return UNKNOWN
    assert value is not None
    if math.isinf(value):
        return _infinite(value)
    magnitude = abs(value)
    if magnitude >= _PLAIN_LIMIT or (0 < magnitude < 10 ** -(digits)):
        return format_scientific(value, digits=digits)
    if magnitude >= 1000 or float(value).is_integer():
        return f"{value:,.0f}"
    # Significant figures without exponent notation: 0.0123, 1.5, 12.3, 123
    decimals = max(digits - 1 - math.floor(math.log10(magnitude)), 0)
    return f"{value:,.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{value:,.0f}"


def format_flop(value: float | None, *, digits: int = 2, unit: str = "FLOP") -> str:
    """Compute with ``digits`` significant figures, e.g. ``3.8 × 10²⁵ FLOP``; ``—`` when unknown.

    Below a thousand the number is written plainly (``512 FLOP``, not ``5.1 × 10²``)."""
    if _missing(value):
        return UNKNOWN
    assert value is not None
    if math.isinf(value) or value == 0:
        return _with_unit(format_scientific(value), unit)
    if 1e-3 <= abs(value) < 1000:
        return _with_unit(format_number(value, digits=max(digits, 3)), unit)
    return _with_unit(format_scientific(value, digits=digits), unit)


def format_interval(low: float | None, high: float | None, *, unit: str = "FLOP") -> str:
    """``2.9 × 10²⁵ – 4.9 × 10²⁵ FLOP`` (a 90% interval); ``—`` when a bound is unknown."""
    if _missing(low) or _missing(high):
        return UNKNOWN
    return f"{format_flop(low, unit='')} – {format_flop(high, unit=unit)}"


def _as_utc(value: datetime) -> datetime:
    # The store keeps instants in UTC; a naive value from SQLite is UTC without the label.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parsed(value: str) -> date | datetime | None:
    text = value.strip()
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _moment(value: datetime | date | str | None) -> datetime | date | str:
    """``value`` as an instant or a day; what is not one comes back as the text to show (``—`` for
    nothing, text that is not ISO 8601 as given)."""
    if value is None or value == "":
        return UNKNOWN
    if isinstance(value, str):
        parsed = _parsed(value)
        return value if parsed is None else parsed
    return value


def format_datetime(value: datetime | date | str | None) -> str:
    """An instant as ``2026-12-04 04:05 UTC`` (a day alone as ``2026-12-04``); ``—`` when unknown.

    ISO 8601 text (as JSON carries it) is read first; text that is not a date is shown as given."""
    moment = _moment(value)
    if isinstance(moment, str):
        return moment
    if isinstance(moment, datetime):
        return _as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")
    return moment.isoformat()


def format_date(value: datetime | date | str | None) -> str:
    """A day as ``2026-12-04`` (an instant's UTC day); ``—`` when unknown."""
    moment = _moment(value)
    if isinstance(moment, str):
        return moment
    if isinstance(moment, datetime):
        return _as_utc(moment).date().isoformat()
    return moment.isoformat()


# Each regime metric's unit (see data/regimes.yaml's header). Compute metrics not named here are
# FLOP; inference compute is a rate, FLOP per 30 days, so it never reads as a training total.
_FLOP_UNITS = {"inference_flop_30d": "FLOP per 30 days", "cluster_peak_ops_per_s": "OP/s"}
# Amounts and counts: plain numbers with thousands separators, and what is counted.
_COUNT_UNITS = {"cost_usd_training": "USD", "revenue_usd_annual": "USD",
                "registered_business_users": "registered business users", "users_registered": "registered users",
                "users_mau": "monthly active users", "qualitative": ""}
# Ratios have no unit of their own: the words say what the number is a share or multiple of.
_RATIO_WORDS = {"modification_flop_ratio": "{} of the original's compute",
                "relative_to_largest_run": "{} × the largest run"}
# Metrics whose figure is an estimate of compute, with a 90% interval in the same unit.
_ESTIMATED = ("training_flop_cumulative", "training_flop_param_updates", "training_run_ops", "modification_flop",
              "inference_flop_30d")


def metric_unit(metric: str | None) -> str:
    """The unit a metric's value is written in: ``FLOP``, ``FLOP per 30 days``, ``OP/s``, ``USD``,
    ``registered users``...; empty for a ratio."""
    if metric in _RATIO_WORDS:
        return ""
    if metric in _COUNT_UNITS:
        return _COUNT_UNITS[metric or ""]
    return _FLOP_UNITS.get(metric or "", "FLOP")


def format_metric(value: float | None, metric: str | None) -> str:
    """A regime's value or threshold in the metric's own unit: ``3.8 × 10²⁵ FLOP``, ``1.0 × 10²⁵
    FLOP per 30 days``, ``1.0 × 10²⁰ OP/s``, ``100,000,000 USD``, ``1,000,000 registered users``,
    ``0.33 of the original's compute``. No metric means training compute (FLOP)."""
    if _missing(value):
        return UNKNOWN
    assert value is not None
    if metric in _RATIO_WORDS:
        return _RATIO_WORDS[metric or ""].format(format_number(value))
    if metric in _COUNT_UNITS:
        return _with_unit(format_number(value), metric_unit(metric))
    return format_flop(value, unit=metric_unit(metric))


def format_metric_estimate(central: float | None, low: float | None, high: float | None, metric: str | None) -> str:
    """A flag's figure in its metric's unit, with the 90% interval where the figure is an estimate of
    compute: ``3.8 × 10²⁵ FLOP (90% interval 2.9 × 10²⁵ – 4.9 × 10²⁵ FLOP)``. A ratio, an amount or a
    count, and a figure without a spread, read alone."""
    central_text = format_metric(central, metric)
    if (metric or "training_flop_cumulative") not in _ESTIMATED or _missing(low) or _missing(high) or low == high:
        return central_text
    return f"{central_text} (90% interval {format_interval(low, high, unit=metric_unit(metric))})"
