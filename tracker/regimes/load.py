"""Reading regime files (the only module here that touches the file system).

``load_regimes`` reads the shipped ``data/regimes.yaml`` plus any operator files. An operator
file may add regimes (``regimes:``; ids must be new) and set the number of a regime whose text
publishes none (``regulator_thresholds: {<id>: {metric, comparator, threshold}}``). Every problem
is reported as a ``RegimeFileError`` naming the file, the regime id and the field.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import polars as pl
import yaml
from pydantic import ValidationError

from tracker.regimes.model import Regime, RegulatorThreshold

DEFAULT_REGIMES_PATH = Path(__file__).resolve().parents[2] / "data" / "regimes.yaml"
_TOP_LEVEL_KEYS = frozenset(
    {"schema_version", "generated", "status_as_of", "regimes", "regulator_thresholds"}
)


class RegimeFileError(ValueError):
    """A regime file is unreadable or an entry is invalid; the message says where and why."""


def load_regimes(path: Path | None = None, extra: list[Path] | None = None) -> list[Regime]:
    """Regimes of ``path`` (default: the shipped file) followed by those of each ``extra`` file."""
    files = [path or DEFAULT_REGIMES_PATH, *(extra or [])]
    regimes: list[Regime] = []
    thresholds: dict[str, tuple[Path, Any]] = {}
    for file in files:
        document = _read_yaml(file)
        regimes.extend(_parse_regimes(file, document.get("regimes") or []))
        for regime_id, value in (document.get("regulator_thresholds") or {}).items():
            thresholds[str(regime_id)] = (file, value)
    _check_unique_ids(regimes)
    regimes = _apply_regulator_thresholds(regimes, thresholds)
    _check_requires(regimes)
    return regimes


def parse_regimes(entries: Iterable[Mapping[str, Any]], source: str = "<regimes>") -> list[Regime]:
    """Validate regimes given in memory (e.g. a regulator's custom list passed to the API)."""
    regimes = _parse_regimes(Path(source), list(entries))
    _check_unique_ids(regimes)
    return regimes


def regimes_frame(regimes: Iterable[Regime]) -> pl.DataFrame:
    """One row per regime with the columns the evaluation engine joins on (effective values)."""
    rows = []
    for regime in regimes:
        duration = regime.deadline_duration
        rows.append(
            {
                "regime_id": regime.id,
                "metric": regime.effective_metric,
                "comparator": regime.effective_comparator,
                "threshold": regime.effective_threshold,
                "applies_to": regime.applies_to,
                "alerts": regime.alerts,
                "in_force_from": regime.in_force.start if regime.in_force else None,
                "in_force_until": regime.in_force.until if regime.in_force else None,
                "informational_from": regime.informational.start if regime.informational else None,
                "informational_until": regime.informational.until if regime.informational else None,
                "deadline_months": duration.months if duration else None,
                "deadline_days": duration.whole_days if duration else None,
                "deadline_working_days": regime.deadline_calendar == "working_days",
                "planned_counts": regime.counting.planned_counts,
                "unheld_conditions": "; ".join(regime.unheld_conditions) or None,
                "unknown_reason": regime.unknown_reason,
                "reference_flop": regime.reference_flop,
            }
        )
    return pl.DataFrame(rows, schema=REGIMES_FRAME_SCHEMA)


REGIMES_FRAME_SCHEMA: dict[str, pl.DataType] = {
    "regime_id": pl.String(),
    "metric": pl.String(),
    "comparator": pl.String(),
    "threshold": pl.Float64(),
    "applies_to": pl.String(),
    "alerts": pl.Boolean(),
    "in_force_from": pl.Date(),
    "in_force_until": pl.Date(),
    "informational_from": pl.Date(),
    "informational_until": pl.Date(),
    "deadline_months": pl.Int32(),
    "deadline_days": pl.Int32(),
    "deadline_working_days": pl.Boolean(),
    "planned_counts": pl.Boolean(),
    "unheld_conditions": pl.String(),
    "unknown_reason": pl.String(),
    "reference_flop": pl.Float64(),
}


def _read_yaml(file: Path) -> dict[str, Any]:
    try:
        document = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RegimeFileError(f"{file}: cannot read the regime file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise RegimeFileError(f"{file}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise RegimeFileError(f"{file}: expected a mapping with a 'regimes' list at the top level")
    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        raise RegimeFileError(
            f"{file}: unknown top-level key(s) {unknown}; expected {sorted(_TOP_LEVEL_KEYS)}"
        )
    if not isinstance(document.get("regimes") or [], list):
        raise RegimeFileError(f"{file}: 'regimes' must be a list of regime entries")
    if not isinstance(document.get("regulator_thresholds") or {}, dict):
        raise RegimeFileError(f"{file}: 'regulator_thresholds' must map regime ids to settings")
    return document


def _parse_regimes(file: Path, entries: list[Any]) -> list[Regime]:
    regimes: list[Regime] = []
    problems: list[str] = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            problems.append(f"{file}: entry {number}: expected a mapping with an 'id'")
            continue
        label = f"regime '{entry['id']}'" if entry.get("id") else f"entry {number} (no id)"
        try:
            regimes.append(Regime.model_validate(dict(entry)))
        except ValidationError as exc:
            problems.extend(f"{file}: {label}: {_describe(error)}" for error in exc.errors())
    if problems:
        raise RegimeFileError("\n".join(problems))
    return regimes


def _describe(error: Mapping[str, Any]) -> str:
    field = ".".join(str(part) for part in error["loc"]) or "(entry)"
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return f"field '{field}' is required"
    if error["type"] == "extra_forbidden":
        return f"field '{field}' is not a known field (typo?)"
    return f"field '{field}': {message} (got {error.get('input')!r})"


def _check_unique_ids(regimes: list[Regime]) -> None:
    seen: set[str] = set()
    for regime in regimes:
        if regime.id in seen:
            raise RegimeFileError(f"regime '{regime.id}': id used twice; ids must be unique")
        seen.add(regime.id)


def _check_requires(regimes: list[Regime]) -> None:
    ids = {regime.id for regime in regimes}
    for regime in regimes:
        missing = [other for other in regime.requires if other not in ids]
        if missing:
            raise RegimeFileError(
                f"regime '{regime.id}': field 'requires' names unknown regime id(s) {missing}"
            )


def _apply_regulator_thresholds(
    regimes: list[Regime], settings: Mapping[str, tuple[Path, Any]]
) -> list[Regime]:
    by_id = {regime.id: regime for regime in regimes}
    for regime_id, (file, value) in settings.items():
        regime = by_id.get(regime_id)
        if regime is None:
            raise RegimeFileError(f"{file}: regulator_thresholds: no regime '{regime_id}'")
        if regime.threshold is not None:
            raise RegimeFileError(
                f"{file}: regime '{regime_id}': regulator_threshold is only for regimes whose "
                f"threshold is null (this one is {regime.threshold:g})"
            )
        try:
            setting = RegulatorThreshold.model_validate(value)
        except ValidationError as exc:
            raise RegimeFileError(
                "\n".join(
                    f"{file}: regime '{regime_id}': "
                    + _describe({**error, "loc": ("regulator_threshold", *error["loc"])})
                    for error in exc.errors()
                )
            ) from exc
        by_id[regime_id] = regime.model_copy(update={"regulator_threshold": setting})
    return [by_id[regime.id] for regime in regimes]
