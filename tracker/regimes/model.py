"""A compute-threshold regime as validated data.

The descriptive fields mirror ``reference/regimes.yaml`` (see the header of ``data/regimes.yaml``);
the machine fields (``in_force``, ``informational``, ``alerts``, ``applies_to``, ``counting``,
``unheld_conditions`` with their ``condition_keys``, ``regulator_threshold``, ``reference_flop``,
``tiers``) are what the evaluation engine reads. Models are frozen: a regime is a fact, changed
only by editing the file (or, for a regulator-set threshold, by a stored setting:
``tracker.regimes.settings``).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tracker.regimes.deadlines import DeadlineCalendar, IsoDuration, parse_iso_duration

State = Literal[
    "in_force",
    "enacted_not_yet_effective",
    "passed_legislature",
    "proposed",
    "draft",
    "guidance",
    "superseded",
    "rescinded",
    "vetoed",
]
# Metrics the tracker estimates itself (compute and capacity) ...
NumericMetric = Literal[
    "training_flop_cumulative",
    "training_flop_param_updates",
    "training_run_ops",
    "modification_flop_ratio",
    "modification_flop",
    "inference_flop_30d",
    "relative_to_largest_run",
    "cluster_peak_ops_per_s",
]
# ... and every metric a regime may name, including those that need data it does not hold.
Metric = Literal[
    NumericMetric,
    "cost_usd_training",
    "revenue_usd_annual",
    "registered_business_users",
    "users_registered",
    "users_mau",
    "qualitative",
]
Comparator = Literal["gt", "gte", "none"]
Stage = Literal[
    "pretraining",
    "fine_tuning",
    "post_training",
    "reinforcement_learning",
    "synthetic_data",
    "distillation",
    "other",
]
AppliesTo = Literal[
    "all",
    "original_providers",
    "downstream_modifiers",
    "downstream_modifiers_base_known",
    "downstream_modifiers_base_unknown",
]
Phase = Literal["in_force", "informational", "inactive"]

ALL_STAGES: tuple[Stage, ...] = get_args(Stage)
CLUSTER_METRICS: frozenset[str] = frozenset({"cluster_peak_ops_per_s"})
# Metrics the tracker evaluates from its own estimates; every other metric needs data it does
# not hold (cost, revenue, users, qualitative tests), so those flags are `unknown`, never guessed.
HELD_METRICS: frozenset[str] = frozenset(get_args(NumericMetric))
# States whose regime binds or guides when its in-force window contains the date.
_IN_FORCE_STATES = frozenset({"in_force", "guidance", "enacted_not_yet_effective"})
_PENDING_STATES = frozenset({"proposed", "draft", "passed_legislature"})
_START_KEYS = ("effective", "applies_from", "published", "entry_into_force")
_PENDING_START_KEYS = ("published", "introduced", "passed", "consultation_opened")
# What a provider declares (kind ``system_conditions``) and a tier's ``domains`` name: lower-case
# words, optionally namespaced (``sector:finance``).
CONDITION_KEY_PATTERN = r"^[a-z0-9][a-z0-9_.-]*(:[a-z0-9][a-z0-9_.-]*)?$"
# Each condition is undeclared, held or not held; the engine indexes every combination, so a
# regime's AND-conditions are bounded (3^6 = 729 combinations).
MAX_UNHELD_CONDITIONS = 6


class RegimeStatus(BaseModel):
    """``state`` plus dated events (``signed``, ``effective``, ``rescinded``, ...), kept as given."""

    model_config = ConfigDict(extra="allow", frozen=True)

    state: State


class DateWindow(BaseModel):
    """Dates ``from`` (inclusive) to ``until`` (exclusive: the first day it no longer applies)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    start: date | None = Field(None, alias="from")
    until: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DateWindow:
        if self.start is not None and self.until is not None and self.until <= self.start:
            raise ValueError("'until' must be after 'from'")
        return self

    def contains(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.until is None or day < self.until)


class Counting(BaseModel):
    """Which disclosed run stages count toward the metric, and whether planned compute counts.

    ``planned_counts`` is true where the instrument's clock or scope runs from planned compute
    (EU Art. 52(1) "known it will be met", SB 53 "intends to use"): the deadline is then anchored
    on the date a projected crossing was first flagged.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    stages: tuple[Stage, ...] = ALL_STAGES
    planned_counts: bool = False

    @field_validator("stages")
    @classmethod
    def _some_stage(cls, stages: tuple[str, ...]) -> tuple[str, ...]:
        if not stages:
            raise ValueError("list at least one stage")
        return stages


class RegulatorThreshold(BaseModel):
    """The number a regulator sets where the instrument publishes none (e.g. TC260)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: NumericMetric
    comparator: Literal["gt", "gte"]
    threshold: float = Field(gt=0)


class Tier(BaseModel):
    """One grade of a regime's ordered tiers (lowest first; a system gets the highest it meets).

    Bands are on the value the regime compares (its effective metric), ``min`` inclusive and
    ``max`` exclusive, absolute (``min_flop``/``max_flop``) or as multiples of the threshold in
    force (``*_threshold_multiple``: follows a regulator-set threshold). ``domains`` is met when
    the provider declares any of those condition keys held (e.g. ``sector:finance``). Every
    criterion given must hold.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=64)
    name: str
    min_flop: float | None = Field(None, ge=0)
    max_flop: float | None = Field(None, gt=0)
    min_threshold_multiple: float | None = Field(None, ge=0)
    max_threshold_multiple: float | None = Field(None, gt=0)
    domains: tuple[str, ...] = ()

    @field_validator("domains")
    @classmethod
    def _keys(cls, domains: tuple[str, ...]) -> tuple[str, ...]:
        bad = [key for key in domains if not re.match(CONDITION_KEY_PATTERN, key)]
        if bad:
            raise ValueError(f"domain keys {bad} must look like 'sector:finance' (lower case, one ':')")
        return domains

    @model_validator(mode="after")
    def _some_criterion(self) -> Tier:
        bounds = (self.min_flop, self.max_flop, self.min_threshold_multiple, self.max_threshold_multiple)
        if all(bound is None for bound in bounds) and not self.domains:
            raise ValueError(f"tier '{self.id}' needs a compute band or domains")
        return self


class ObligationDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    what: str
    deadline: str | None = None
    anchor: str | None = None

    @field_validator("deadline")
    @classmethod
    def _iso(cls, value: str | None) -> str | None:
        if value is not None:
            parse_iso_duration(value)
        return value


class Regime(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # --- descriptive fields (reference/regimes.yaml)
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    jurisdiction: str
    instrument: str
    status: RegimeStatus
    subject: str
    metric: Metric
    comparator: Comparator
    threshold: float | None
    threshold_expression: str | None = None
    unit: str | None = None
    conditions: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()
    counting_rules: dict[str, Any] | None = None
    obligation: str
    obligations_detail: tuple[ObligationDetail, ...] = ()
    addressee: str | None = None
    deadline: str | None = None
    deadline_text: str | None = None
    deadline_anchor: str | None = None
    deadline_calendar: DeadlineCalendar = "calendar"
    consequences: str | None = None
    penalties: str | None = None
    notes: str | None = None
    sources: tuple[str, ...] = ()
    verify: bool = False

    # --- machine fields (derived from `status` when absent; see _derive_machine_fields)
    in_force: DateWindow | None = None
    informational: DateWindow | None = None
    alerts: bool = False
    applies_to: AppliesTo = "all"
    counting: Counting = Counting()
    unheld_conditions: tuple[str, ...] = ()
    # The key a provider declares each unheld condition under, position by position (default
    # ``<id>:<n>``, counted from 1).
    condition_keys: tuple[str, ...] = ()
    regulator_threshold: RegulatorThreshold | None = None
    reference_flop: float | None = Field(None, gt=0)
    tiers: tuple[Tier, ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _derive_machine_fields(cls, data: Any) -> Any:
        """Fill the date windows and ``alerts`` from ``status`` for entries that omit them.

        In force / guidance / enacted: in force from the first of ``effective``,
        ``applies_from``, ``published``, ``entry_into_force`` (open-ended if none is a date).
        Proposed / draft / passed: informational from ``published``/``introduced``/... .
        Rescinded / superseded / vetoed entries must give their windows explicitly.
        """
        if not isinstance(data, dict) or not isinstance(data.get("status"), dict):
            return data
        status: dict[str, Any] = data["status"]
        state = status.get("state")
        filled = dict(data)
        if "in_force" not in data and "informational" not in data:
            if state in _IN_FORCE_STATES:
                filled["in_force"] = {"from": _first_date(status, _START_KEYS)}
            elif state in _PENDING_STATES:
                filled["informational"] = {"from": _first_date(status, _PENDING_START_KEYS)}
        if "alerts" not in data:
            filled["alerts"] = state in _IN_FORCE_STATES and filled.get("in_force") is not None
        return filled

    @field_validator("deadline")
    @classmethod
    def _iso_deadline(cls, value: str | None) -> str | None:
        if value is not None:
            parse_iso_duration(value)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Regime:
        if self.comparator == "none" and self.threshold is not None:
            raise ValueError("comparator 'none' needs threshold null")
        if self.comparator != "none" and self.threshold is None:
            raise ValueError(f"comparator '{self.comparator}' needs a numeric threshold")
        if self.metric == "qualitative" and self.comparator != "none":
            raise ValueError("metric 'qualitative' needs comparator 'none' and threshold null")
        if self.threshold is not None and self.threshold <= 0:
            raise ValueError("threshold must be > 0")
        if self.regulator_threshold is not None and self.threshold is not None:
            raise ValueError("regulator_threshold is only for regimes whose threshold is null")
        if self.reference_flop is not None and self.metric != "relative_to_largest_run":
            raise ValueError("reference_flop is only for metric 'relative_to_largest_run'")
        if self.condition_keys and len(self.condition_keys) != len(self.unheld_conditions):
            raise ValueError(
                f"condition_keys needs one key per unheld condition ({len(self.unheld_conditions)}),"
                f" got {len(self.condition_keys)}"
            )
        bad = [key for key in self.condition_keys if not re.match(CONDITION_KEY_PATTERN, key)]
        if bad or len(set(self.condition_keys)) != len(self.condition_keys):
            raise ValueError(f"condition_keys must be distinct keys like 'placed_on_market' (got {bad or 'a repeat'})")
        if len(self.unheld_conditions) > MAX_UNHELD_CONDITIONS:
            raise ValueError(f"at most {MAX_UNHELD_CONDITIONS} unheld_conditions per regime")
        tier_ids = [tier.id for tier in self.tiers]
        if len(set(tier_ids)) != len(tier_ids):
            raise ValueError(f"tier ids must be distinct (got {tier_ids})")
        if self.metric in CLUSTER_METRICS and self.applies_to != "all":
            raise ValueError("cluster metrics need applies_to 'all'")
        if self.deadline_calendar == "working_days" and self.deadline is not None:
            parsed = parse_iso_duration(self.deadline)
            if parsed.months or parsed.seconds:
                raise ValueError("a working-day deadline must be whole days, e.g. P10D")
        return self

    # --- what the engine evaluates
    @property
    def effective_metric(self) -> str:
        return self.regulator_threshold.metric if self.regulator_threshold else self.metric

    @property
    def effective_comparator(self) -> str:
        return self.regulator_threshold.comparator if self.regulator_threshold else self.comparator

    @property
    def effective_threshold(self) -> float | None:
        return self.regulator_threshold.threshold if self.regulator_threshold else self.threshold

    @property
    def regulator_settable(self) -> bool:
        """True where the YAML marks the number as the regulator's to set (``regulator_threshold``
        present, even null): only such regimes accept a stored setting."""
        return "regulator_threshold" in self.model_fields_set

    @property
    def declarable_conditions(self) -> tuple[tuple[str, str], ...]:
        """(key, condition text) for each unheld condition, the key a provider declares it under."""
        keys = self.condition_keys or tuple(f"{self.id}:{n}" for n in range(1, len(self.unheld_conditions) + 1))
        return tuple(zip(keys, self.unheld_conditions, strict=True))

    @property
    def deadline_duration(self) -> IsoDuration | None:
        return parse_iso_duration(self.deadline) if self.deadline else None

    @property
    def unknown_reason(self) -> str | None:
        """Why every flag of this regime is ``unknown``, or None when the tracker can test it."""
        if self.effective_metric in HELD_METRICS:
            return None
        if self.metric == "qualitative":
            if self.regulator_settable:
                return ("no number published; the regulator sets it (dashboard: Regime thresholds, or "
                        "`tracker regimes set-threshold`)")
            return "qualitative test with no number; the tracker does not assess it"
        return f"needs {self.metric}, which the tracker does not hold"

    def phase_on(self, day: date) -> Phase:
        """``in_force`` (binding or guidance), ``informational`` (proposed, no alerts) or ``inactive``."""
        if self.in_force is not None and self.in_force.contains(day):
            return "in_force"
        if self.informational is not None and self.informational.contains(day):
            return "informational"
        return "inactive"


def _first_date(status: dict[str, Any], keys: tuple[str, ...]) -> date | None:
    for key in keys:
        value = status.get(key)
        if isinstance(value, date):
            return value
    return None
