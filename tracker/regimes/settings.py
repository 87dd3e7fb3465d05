"""Thresholds the regulator running the tracker sets, where a regime's text publishes no number.

TC260 asks for registration once "computing and reasoning capacities reach a certain threshold"
and names none: the regulator sets it (training compute, or for reasoning capacity the inference
compute served per 30 days), with a reason. ``data/regimes.yaml`` stays the source of published
regimes and marks which ones accept a setting (``regulator_threshold`` present, even null); the
settings are stored append-only (``regime_setting``: the newest per regime wins, the older rows are
its history) and overlaid on the YAML regimes before each evaluation by the pure
``apply_regulator_thresholds``. The overlaid regime's definition enters the evaluation basis, so a
changed threshold makes the next evaluation a whole-registry one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tracker.regimes.model import Regime, RegulatorThreshold
from tracker.store import audit
from tracker.store.models import RegimeSetting, columns
from tracker.store.types import utcnow

# What a regulator may set, by the engine's metric names (``training_flop`` is accepted for the first).
SETTABLE_METRICS: dict[str, str] = {
    "training_flop_cumulative": "training compute, cumulative over the lineage (FLOP)",
    "inference_flop_30d": "inference compute served per 30 days (FLOP), for reasoning capacity",
}
METRIC_ALIASES = {"training_flop": "training_flop_cumulative", "inference_flop": "inference_flop_30d"}
# "Reach a certain threshold": at the number counts.
SETTING_COMPARATOR = "gte"
MAX_REASON_CHARS = 4000


class SettingError(ValueError):
    """A threshold setting is refused; the message names the field, what is wrong and what is expected."""


@dataclass(frozen=True)
class Setting:
    regime_id: str
    metric: str
    threshold: float
    reason: str
    set_by: str
    comparator: str = SETTING_COMPARATOR
    set_at: datetime | None = None
    id: int | None = None


# --- pure ---------------------------------------------------------------------------------

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_POWER = re.compile(r"(?:(?P<mantissa>[0-9]*\.?[0-9]+)[x×*·])?10(?:\^|\*\*)(?P<exponent>[-+]?[0-9]{1,3})")


def parse_threshold(text: str) -> float:
    """``1e26``, ``1.5E+25``, ``10^26``, ``10**26``, ``1 × 10²⁶``, ``3x10^25`` or a plain number.

    Raises ``SettingError`` saying what was expected. Thousands separators are refused: ``1,5``
    is ambiguous across locales.
    """
    # A superscript exponent is a power: "10²⁶" must not read as the number 1026.
    cleaned = re.sub(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+", lambda m: "^" + m.group().translate(_SUPERSCRIPTS), text.strip())
    cleaned = re.sub(r"(?i)flop$", "", re.sub(r"\s+", "", cleaned))
    value: float | None
    try:
        value = float(cleaned)
    except ValueError:
        match = _POWER.fullmatch(cleaned)
        try:
            # Through the decimal literal, so 3 × 10^25 is exactly 3e25 (not 3 * 10.0**25).
            value = float(f"{match.group('mantissa') or 1}e{int(match.group('exponent'))}") if match else None
        except (OverflowError, ValueError):
            value = None
    if value is None or not math.isfinite(value) or value <= 0:
        raise SettingError(
            f"threshold: {text!r} is not a positive number; expected e.g. 1e26, 10^26 or 1 × 10²⁶"
        )
    return value


def normalise_metric(metric: str) -> str:
    name = METRIC_ALIASES.get(metric.strip(), metric.strip())
    if name not in SETTABLE_METRICS:
        raise SettingError(
            f"metric: {metric!r} cannot be set; expected one of {sorted([*SETTABLE_METRICS, *METRIC_ALIASES])}"
        )
    return name


def validate_setting(regimes: Sequence[Regime], *, regime_id: str, metric: str, threshold: float | str,
                     reason: str, set_by: str) -> Setting:
    """A setting checked against the regimes: the regime must exist and be regulator-settable."""
    by_id = {regime.id: regime for regime in regimes}
    regime = by_id.get(regime_id)
    if regime is None:
        raise SettingError(f"regime: no regime {regime_id!r}; expected one of {settable_ids(regimes)}")
    if not regime.regulator_settable:
        raise SettingError(
            f"regime: {regime_id!r} has a published threshold and cannot be set here; "
            f"expected one of {settable_ids(regimes)}"
        )
    value = parse_threshold(threshold) if isinstance(threshold, str) else float(threshold)
    if not math.isfinite(value) or value <= 0:
        raise SettingError(f"threshold: {threshold!r} must be a positive number of FLOP")
    text = (reason or "").strip()
    if not text:
        raise SettingError("reason: a threshold is set with a written reason; the reason is empty")
    if len(text) > MAX_REASON_CHARS:
        raise SettingError(f"reason: {len(text)} characters; at most {MAX_REASON_CHARS}")
    who = (set_by or "").strip()
    if not who or len(who) > 200:
        raise SettingError("set_by: name who sets the threshold (1 to 200 characters)")
    return Setting(regime_id=regime_id, metric=normalise_metric(metric), threshold=value, reason=text, set_by=who)


def settable_ids(regimes: Iterable[Regime]) -> list[str]:
    return sorted(regime.id for regime in regimes if regime.regulator_settable)


def apply_regulator_thresholds(regimes: Sequence[Regime], settings_rows: Iterable[Setting]) -> list[Regime]:
    """The regimes with each settable one's newest setting in force (rows in any order; the
    highest id, else the latest ``set_at``, wins). Settings of regimes that are not settable, or
    no longer exist, are ignored: the YAML decides which numbers are the regulator's."""
    newest: dict[str, Setting] = {}
    for row in settings_rows:
        current = newest.get(row.regime_id)
        if current is None or _order(row) > _order(current):
            newest[row.regime_id] = row
    out = []
    for regime in regimes:
        setting = newest.get(regime.id)
        if setting is None or not regime.regulator_settable or setting.metric not in SETTABLE_METRICS:
            out.append(regime)
            continue
        threshold = RegulatorThreshold.model_validate(
            {"metric": setting.metric, "comparator": setting.comparator, "threshold": setting.threshold})
        out.append(regime.model_copy(update={"regulator_threshold": threshold}))
    return out


def _order(setting: Setting) -> tuple[int, str]:
    return (setting.id or 0, setting.set_at.isoformat() if setting.set_at else "")


# --- store ----------------------------------------------------------------------------------


def stored_settings(session: Session, regime_id: str | None = None) -> list[Setting]:
    """Every stored setting (history included), newest first."""
    r = columns(RegimeSetting)
    query = sa.select(r.id, r.regime_id, r.metric, r.comparator, r.threshold, r.reason, r.set_by, r.set_at)
    if regime_id is not None:
        query = query.where(r.regime_id == regime_id)
    rows = session.execute(query.order_by(r.id.desc())).all()
    return [Setting(id=row.id, regime_id=row.regime_id, metric=row.metric, comparator=row.comparator,
                    threshold=row.threshold, reason=row.reason, set_by=row.set_by, set_at=row.set_at)
            for row in rows]


def with_stored_settings(session: Session, regimes: Sequence[Regime]) -> list[Regime]:
    return apply_regulator_thresholds(regimes, stored_settings(session))


def record_setting(session: Session, regimes: Sequence[Regime], *, regime_id: str, metric: str,
                   threshold: float | str, reason: str, set_by: str, actor: str | None = None) -> Setting:
    """Validate and append a setting, audited, in the caller's transaction."""
    setting = validate_setting(regimes, regime_id=regime_id, metric=metric, threshold=threshold,
                               reason=reason, set_by=set_by)
    previous = stored_settings(session, regime_id)
    row = RegimeSetting(regime_id=setting.regime_id, metric=setting.metric, comparator=setting.comparator,
                        threshold=setting.threshold, reason=setting.reason, set_by=setting.set_by,
                        set_at=utcnow())
    session.add(row)
    session.flush()
    details: dict[str, Any] = {"metric": setting.metric, "comparator": setting.comparator,
                               "threshold": setting.threshold, "reason": setting.reason}
    if previous:
        details["previous"] = {"metric": previous[0].metric, "threshold": previous[0].threshold}
    audit.record(session, actor=actor or setting.set_by, action="regime.threshold_set", entity="regime",
                 entity_id=setting.regime_id, details=details)
    return Setting(id=row.id, regime_id=row.regime_id, metric=row.metric, comparator=row.comparator,
                   threshold=row.threshold, reason=row.reason, set_by=row.set_by, set_at=row.set_at)
