"""A regime's machine fields in words: legal force, threshold, deadline, obligation and dates.

``data/regimes.yaml`` keeps what the engine reads (``gte``, ``1e+06``, ``users_registered``,
``R/P3M``, ``binding: false``); people read "≥ 1,000,000 registered users", "every 3 months" and
"Guidance". Numbers are written by ``tracker.units`` (through ``formatting``); this module only
chooses the words around them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dashboards.components.formatting import COMPARATORS, format_metric
from tracker.regimes.deadlines import parse_iso_duration

STATE_LABELS = {
    "in_force": "In force", "enacted_not_yet_effective": "Enacted, not yet in effect",
    "passed_legislature": "Passed the legislature", "proposed": "Proposed", "draft": "Draft",
    "guidance": "Guidance", "superseded": "Superseded", "rescinded": "Rescinded", "vetoed": "Vetoed",
}
_BINDING = ("in_force", "enacted_not_yet_effective")
_PENDING = ("proposed", "draft", "passed_legislature")
# The words after the figure (written with its unit by tracker.units), per metric: what is measured.
_AFTER = {
    "training_flop_cumulative": "of training compute, cumulative",
    "training_flop_param_updates": "of training compute on parameter updates",
    "training_run_ops": "in one training run",
    "modification_flop": "of modification compute",
    "inference_flop_30d": "of inference",
    "cluster_peak_ops_per_s": "peak of one cluster",
    "cost_usd_training": "of training cost",
    "revenue_usd_annual": "of annual revenue",
}
# Metrics whose threshold is a multiple of something: the measured quantity goes first.
_BEFORE = {"modification_flop_ratio": "modification compute", "relative_to_largest_run": "training compute"}


def legal_force(state: str | None, events: Mapping[str, Any] | None = None) -> str:
    """"Binding law", "Guidance", "Not yet law" or "No longer applies" (``binding: false`` in the
    status events makes an in-force text guidance)."""
    if state == "guidance" or (events or {}).get("binding") is False:
        return "Guidance"
    if state in _BINDING:
        return "Binding law"
    if state in _PENDING:
        return "Not yet law"
    return "Never took effect" if state == "vetoed" else "No longer applies"


def state_label(state: str | None) -> str:
    return STATE_LABELS.get(state or "", (state or "—").replace("_", " ").capitalize())


def threshold_text(metric: str, comparator: str, threshold: float | None) -> str:
    """``> 1.0 × 10²⁵ FLOP of training compute, cumulative``, ``≥ 1,000,000 registered users``."""
    if threshold is None or comparator == "none":
        return "No numeric threshold"
    sign = COMPARATORS.get(comparator, comparator)
    if metric in _BEFORE:
        return f"{_BEFORE[metric]} {sign} {format_metric(threshold, metric)}"
    after = _AFTER.get(metric, "")
    return f"{sign} {format_metric(threshold, metric)} {after}".strip()


def _span(amount: int, unit: str) -> str:
    return f"{amount} {unit}{'' if amount == 1 else 's'}"


def deadline_text(deadline: str | None, calendar: str | None = "calendar", *, of: str = "crossing") -> str:
    """``P14D`` as "within 2 weeks of crossing", ``R/P3M`` as "every 3 months", ``P10D`` on working
    days as "within 10 working days of crossing"; "No fixed deadline" when there is none."""
    if not deadline:
        return "No fixed deadline"
    try:
        duration = parse_iso_duration(deadline)
    except ValueError:
        return deadline  # not a duration the engine reads: shown as the file words it
    if duration.months:
        span = (_span(duration.months // 12, "year") if duration.months % 12 == 0 and not duration.days
                else _span(duration.months, "month"))
    elif duration.seconds and not duration.days:
        span = (_span(duration.seconds // 3600, "hour") if duration.seconds % 3600 == 0
                else _span(duration.seconds // 60, "minute"))
    elif calendar == "working_days":
        span = _span(duration.days, "working day")
    elif duration.days and duration.days % 7 == 0:
        span = _span(duration.days // 7, "week")
    else:
        span = _span(duration.days, "day")
    if duration.recurring:
        return f"every {span}"
    if not duration.months and not duration.days and not duration.seconds:
        return f"no later than {of}"
    return f"within {span} of {of}"


def words(key: str | None) -> str:
    """A machine key (``publish_transparency_report``, ``entry_into_force``) as words."""
    return (key or "—").replace("_", " ").strip().capitalize() or "—"


def dated_events(events: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The status's dated events as (label, date text); flags such as ``binding`` are left out
    (they are the legal force, said elsewhere)."""
    return [(words(key), str(value)) for key, value in events.items()
            if key != "state" and not isinstance(value, bool) and value is not None]
