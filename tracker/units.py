"""How compute is written for people: one formatter, used by every view and export.

``3.8e25`` becomes ``3.8 × 10^25 FLOP``: scientific notation with a multiplication sign reads the
same in a table, a tooltip and a CSV, and never looks like a spreadsheet formula.
"""

from __future__ import annotations

import math

UNKNOWN = "—"


def format_flop(value: float | None, *, digits: int = 2, unit: str = "FLOP") -> str:
    """``value`` with ``digits`` significant figures, e.g. ``3.8 × 10^25 FLOP``; ``—`` when unknown."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return UNKNOWN
    if math.isinf(value):
        return f"{'-' if value < 0 else ''}∞ {unit}"
    if value == 0:
        return f"0 {unit}"
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    exponent = math.floor(math.log10(magnitude))
    mantissa = round(magnitude / 10**exponent, digits - 1)
    if mantissa >= 10:  # 9.96 rounds up to 10.0: carry into the exponent
        mantissa /= 10
        exponent += 1
    text = f"{mantissa:.{max(digits - 1, 0)}f}"
    if exponent < 3:  # small numbers read better plainly (512 FLOP, not 5.1 × 10^2)
        return f"{sign}{magnitude:.{max(digits, 3)}g} {unit}"
    return f"{sign}{text} × 10^{exponent} {unit}"


def format_interval(low: float | None, high: float | None, *, unit: str = "FLOP") -> str:
    """``2.9 × 10^25 – 4.9 × 10^25 FLOP`` (a 90% interval); ``—`` when a bound is unknown."""
    if low is None or high is None:
        return UNKNOWN
    return f"{format_flop(low, unit='').strip()} – {format_flop(high, unit=unit)}"


# Units of the regime metrics that are not FLOP counts (see data/regimes.yaml's header).
_METRIC_UNITS = {
    "cluster_peak_ops_per_s": "OP/s",
    "cost_usd_training": "USD",
    "revenue_usd_annual": "USD",
}
_COUNT_METRICS = ("registered_business_users", "users_registered", "users_mau")


def format_metric(value: float | None, metric: str | None) -> str:
    """A regime's value or threshold in the metric's own unit (FLOP, OP/s, USD, users or a ratio)."""
    if value is None:
        return UNKNOWN
    if metric == "modification_flop_ratio":
        return f"{value:.2f} of the original's compute"
    if metric == "relative_to_largest_run":
        return f"{value:g} × the largest run"
    if metric in _COUNT_METRICS:
        return f"{value:,.0f} users"
    return format_flop(value, unit=_METRIC_UNITS.get(metric or "", "FLOP"))
