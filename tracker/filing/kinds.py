"""The one column specification per disclosure kind (contract §1).

Validation, the published JSON Schema, the CSV templates' headers and the documentation all read
from here, so a column is added in one place. Counts declared ``int`` are whole numbers but are
stored as floats (the schema stores every quantity as double precision).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from tracker.catalog.accelerators import PRECISIONS

ColumnType = Literal["text", "int", "float", "date", "enum"]

HOURS_PER_YEAR = 8766.0  # 365.25 days
MAX_RUN_YEARS = 5
MAX_RUN_HOURS = MAX_RUN_YEARS * HOURS_PER_YEAR
MAX_CHIPS = 10_000_000
MAX_RUN_FLOP = 1e29  # two orders above the largest runs on record (~5e26 in 2025)

STAGES = ("pretraining", "fine_tuning", "post_training", "reinforcement_learning",
          "synthetic_data", "distillation", "other")
RUN_STATUSES = ("planned", "in_progress", "completed")


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str
    required: bool = False
    minimum: float | None = None
    exclusive_minimum: bool = False
    maximum: float | None = None  # a hard bound (utilization <= 1)
    plausible_maximum: float | None = None  # a sanity bound, reported as "implausible"
    plausible_reason: str = ""
    choices: tuple[str, ...] = ()
    default: str | None = None
    max_length: int | None = None

    def expectation(self) -> str:
        """The ``expected ...`` half of a problem message."""
        if self.type == "int":
            low = "" if self.minimum is None else f" >= {self.minimum:g}"
            return f"a whole number{low}"
        if self.type == "float":
            if self.minimum is not None and self.maximum is not None:
                left = "(" if self.exclusive_minimum else "["
                return f"a number in {left}{self.minimum:g}, {self.maximum:g}]"
            if self.minimum is not None:
                op = ">" if self.exclusive_minimum else ">="
                return f"a finite number {op} {self.minimum:g}"
            return "a finite number"
        if self.type == "date":
            return "an ISO 8601 date YYYY-MM-DD"
        if self.type == "enum":
            return "one of " + ", ".join(self.choices)
        return "text" + (f" of at most {self.max_length} characters" if self.max_length else "")


@dataclass(frozen=True)
class Kind:
    name: str
    description: str
    columns: tuple[Column, ...]
    # Columns that identify a record: a repeat within one file is an error and a later filing with
    # the same identity supersedes the earlier record.
    identity: tuple[str, ...]
    by_name: Mapping[str, Column] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {c.name: c for c in self.columns})

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]


def _count(name: str, description: str, *, required: bool = False, minimum: float = 1,
           plausible: float | None = None, reason: str = "") -> Column:
    return Column(name, "int", description, required=required, minimum=minimum,
                  plausible_maximum=plausible, plausible_reason=reason)


def _positive(name: str, description: str, *, plausible: float | None = None, reason: str = "") -> Column:
    return Column(name, "float", description, minimum=0, exclusive_minimum=True,
                  plausible_maximum=plausible, plausible_reason=reason)


def _non_negative(name: str, description: str) -> Column:
    return Column(name, "float", description, minimum=0)


def _text(name: str, description: str, max_length: int | None, *, required: bool = False,
          default: str | None = None) -> Column:
    return Column(name, "text", description, required=required, max_length=max_length, default=default)


_UTILIZATION = Column("utilization", "float", "model FLOP utilization (MFU), a fraction",
                      minimum=0, exclusive_minimum=True, maximum=1)
_SYSTEM = _text("system", "the AI system (model) name", 200, required=True)
_VERSION = _text("version", "version label; empty means the unversioned system", 64, default="")

TRAINING_RUNS = Kind(
    name="training_runs",
    description="one row per training run or stage",
    identity=("run_id",),
    columns=(
        _SYSTEM,
        _VERSION,
        _text("run_id", "the provider's own id for this run, unique per provider", 200, required=True),
        Column("stage", "enum", "training stage", choices=STAGES, default="pretraining"),
        _text("base_system", "the system this run starts from: name or name@version", 265),
        Column("status", "enum", "run status", choices=RUN_STATUSES, default="completed"),
        _text("accelerator", "accelerator model, a catalog name or alias", 128),
        _count("accelerator_count", "chips used in parallel", plausible=MAX_CHIPS,
               reason="more than ten million chips"),
        _positive("training_hours", "wall-clock hours of the run", plausible=MAX_RUN_HOURS,
                  reason="longer than five years"),
        _positive("chip_hours", "accelerator-hours in total", plausible=MAX_CHIPS * MAX_RUN_HOURS,
                  reason="ten million chips for five years"),
        Column("start_date", "date", "first day of the run"),
        Column("end_date", "date", "last day of the run (planned end for planned/in_progress)"),
        Column("precision", "enum", "numerical format of the run", choices=PRECISIONS),
        _UTILIZATION,
        _count("parameters", "total parameters"),
        _count("active_parameters", "parameters active per token; defaults to parameters"),
        _positive("training_tokens", "tokens processed (all epochs)"),
        _positive("reported_flop", "the provider's own compute figure for this run, FLOP",
                  plausible=MAX_RUN_FLOP, reason="above 1e29 FLOP for a single run"),
        _text("notes", "free text", None),
    ),
)

INFERENCE_USAGE = Kind(
    name="inference_usage",
    description="one row per system and period (and optionally segment); rows of one period are summed",
    identity=("system", "version", "period_start", "period_end", "segment"),
    columns=(
        _SYSTEM,
        _VERSION,
        Column("period_start", "date", "first day of the period (inclusive)", required=True),
        Column("period_end", "date", "last day of the period (inclusive)", required=True),
        _non_negative("input_tokens", "prompt tokens processed"),
        _non_negative("output_tokens", "tokens generated (reasoning tokens included)"),
        _count("requests", "requests served", minimum=0),
        _non_negative("mean_context_tokens", "mean context length, for the attention term"),
        _text("accelerator", "inference fleet accelerator, a catalog name or alias", 128),
        _non_negative("accelerator_hours", "fleet accelerator-hours in the period"),
        replace(_UTILIZATION, description="fleet utilization"),
        # Not in contract v1's table (an allowed optional addition): names a part of a period
        # (region, hour, shard) so a provider can send many rows per period; they are summed.
        _text("segment", "part of the period this row covers (region, hour, shard); rows are summed", 200),
    ),
)

CLUSTERS = Kind(
    name="clusters",
    description="one row per computing cluster",
    identity=("cluster_id",),
    columns=(
        _text("cluster_id", "the provider's id of the cluster", 200, required=True),
        _text("site", "data-centre location", 200),
        Column("accelerator", "text", "accelerator model, a catalog name or alias", required=True,
               max_length=128),
        _count("accelerator_count", "chips", required=True, plausible=MAX_CHIPS,
               reason="more than ten million chips"),
        _positive("interconnect_gbps", "data-centre networking per node, Gbit/s"),
        Column("operational_from", "date", "first day of operation"),
    ),
)

# Conditions compute alone does not settle (a regime's unheld_conditions, a tier's domains): the
# provider says, per system, whether each holds. The keys are the regimes' (data/regimes.yaml
# condition_keys and tier domains); validation and the JSON Schema read them from the regimes
# (tracker/filing/conditions.py), so this module stays free of the regime files.
SYSTEM_CONDITIONS = Kind(
    name="system_conditions",
    description="one row per system and declared condition",
    identity=("system", "version", "condition"),
    columns=(
        _SYSTEM,
        _VERSION,
        _text("condition", "a condition key a regime asks about, e.g. generates_language_or_images or "
                           "sector:finance (`tracker schema system_conditions` lists them)", 120, required=True),
        Column("held", "enum", "whether the condition holds for this system", required=True, choices=("yes", "no")),
        _text("notes", "free text: the basis of the declaration", None),
    ),
)

KINDS: Mapping[str, Kind] = {k.name: k for k in (TRAINING_RUNS, INFERENCE_USAGE, CLUSTERS, SYSTEM_CONDITIONS)}


def get_kind(name: str) -> Kind | None:
    return KINDS.get(name.strip().lower()) if name else None


def json_schema(kind: Kind) -> dict[str, Any]:
    """JSON Schema (2020-12) of a file of this kind: an array of records, or the envelope."""
    props: dict[str, Any] = {}
    for c in kind.columns:
        prop: dict[str, Any] = {"description": c.description}
        if c.type in ("int", "float"):
            # Numbers may arrive as JSON numbers or as text (CSV cells are text).
            prop["type"] = ["integer" if c.type == "int" else "number", "string", "null"]
            if c.minimum is not None:
                prop["exclusiveMinimum" if c.exclusive_minimum else "minimum"] = c.minimum
            if c.maximum is not None:
                prop["maximum"] = c.maximum
            if c.plausible_maximum is not None:
                prop["x-plausible-maximum"] = c.plausible_maximum
        elif c.type == "date":
            prop.update(type=["string", "null"], format="date")
        elif c.type == "enum":
            prop.update(type=["string", "null"], enum=[*c.choices, None])
        else:
            prop["type"] = ["string", "null"]
            if c.max_length:
                prop["maxLength"] = c.max_length
        if c.default is not None:
            prop["default"] = c.default
        props[c.name] = prop
    if kind is SYSTEM_CONDITIONS:
        from tracker.filing.conditions import known_conditions

        known = known_conditions()
        props["condition"]["enum"] = sorted(known)
        props["condition"]["x-conditions"] = dict(sorted(known.items()))
    record = {
        "type": "object",
        "description": kind.description,
        "properties": props,
        "required": kind.required,
        "additionalProperties": False,
    }
    records = {"type": "array", "items": {"$ref": "#/$defs/record"}, "minItems": 1}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://compute-threshold-tracker.example/schema/v1/{kind.name}.json",
        "title": f"{kind.name} disclosure (schema version 1)",
        "$defs": {"record": record},
        "oneOf": [
            records,
            {
                "type": "object",
                "properties": {
                    "schema_version": {"const": 1},
                    "kind": {"const": kind.name},
                    "records": records,
                },
                "required": ["schema_version", "records"],
                "additionalProperties": False,
            },
        ],
    }
