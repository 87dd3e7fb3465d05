"""Every rule a disclosure's cells and rows must follow, each written once: a predicate and a message.

A :class:`Rule` is a pair of polars expressions over a row: ``breaks`` (true where the row breaks
the rule) and ``says`` (the words, read only where it does). They are evaluated over columns named
as the kind's columns (the cell: stripped text, or a number the reader already typed) and
``<name>__v`` (the parsed value, :func:`v`).

Two passes read them (``pipeline.py``). The fast pass evaluates only the predicates, over typed
reads and inside the streaming aggregate (rules of key cells once per distinct key). The message
pass, run only when something breaks, evaluates the same rules over the text read and words the
problems: per column, the first rule a cell breaks is the one reported (the order below), so a
cell breaking several reads as it always has.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from tracker.catalog.accelerators import PRECISIONS, Catalog
from tracker.filing import kinds
from tracker.filing.kinds import Column
from tracker.text import EXPECTED, INVISIBLE, INVISIBLE_IN_NOTES, invisible_message

_SHOWN_CHARS = 60
_DEFAULT_PRECISION = "bf16"  # the format of almost every large run since 2020
_CHAIN_LIMIT = 64
NOTES = "notes"  # the one free-text column: tabs and line breaks allowed (tracker/text.py)
CATALOG_HINT = "see the accelerator catalog: GET /api/v1/accelerators"
# Dates a disclosure may carry, in every kind and column: from before the first digital training
# compute to far enough ahead for any planned run. Fixed, not relative to today, so that the core
# stays free of the clock and a file valid today stays valid.
FIRST_DATE, LAST_DATE = date(1950, 1, 1), date(2099, 12, 31)
DATE_RANGE = f"a date from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}"


@dataclass(frozen=True)
class Rule:
    column: str | None  # None: the row as a whole
    breaks: pl.Expr  # true where the row breaks the rule; null or false where it holds
    says: pl.Expr  # the message (``...; expected ...``), read only where ``breaks`` is true


def v(name: str) -> pl.Expr:
    """The parsed value of a column (``<name>__v``)."""
    return pl.col(f"{name}__v")


def present(*names: str) -> pl.Expr:
    return pl.all_horizontal(pl.col(n).is_not_null() for n in names)


def shown(name: str) -> pl.Expr:
    # A quoted cell is shown on screens: a bidi control in it would reorder the message around it.
    return pl.col(name).cast(pl.String).str.slice(0, _SHOWN_CHARS).str.replace_all(INVISIBLE, "\ufffd")


def _say(expect: str, template: str, *args: pl.Expr) -> pl.Expr:
    return pl.format(template + "; expected " + expect.replace("{", "{{").replace("}", "}}"), *args)


def _number_text(value: float) -> str:
    return f"{value:,.0f}" if value < 1e9 and value == int(value) else f"{value:.0e}"


# --- rules of one cell ---------------------------------------------------------------------------

def cell_rules(c: Column, typed: pl.DataType | None = None) -> list[Rule]:
    """The rules of one cell, in the order they are reported. ``pl.col(c.name)`` is the cell stripped
    (null when empty); for numbers it may be text or a number the reader typed (``typed``: its type,
    see :func:`number_rules`)."""
    raw, expect = pl.col(c.name), c.expectation()
    rules = [Rule(c.name, pl.lit(c.required) & raw.is_null(), _say(expect, "is empty"))]
    if c.type == "text":
        # Bidi controls, zero-width characters and NUL: look-alike names (and NUL breaks PostgreSQL).
        pattern = INVISIBLE_IN_NOTES if c.name == NOTES else INVISIBLE
        rules.append(Rule(c.name, raw.str.contains(pattern), pl.format(
            "{}; expected " + EXPECTED, invisible_message(raw, notes=c.name == NOTES))))
        if c.max_length:
            rules.append(Rule(c.name, raw.str.len_chars() > c.max_length,
                              _say(expect, "is {} characters long", raw.str.len_chars())))
    elif c.type == "enum":
        rules.append(Rule(c.name, raw.is_not_null() & ~v(c.name).is_in(c.choices),
                          _say(expect, "'{}' is not a known {}", shown(c.name), pl.lit(c.name))))
    elif c.type == "date":
        x = v(c.name)
        rules += [
            Rule(c.name, raw.is_not_null() & x.is_null(),
                 _say(expect, "'{}' is not a valid date (or not a day that exists)", shown(c.name))),
            Rule(c.name, (x < pl.lit(FIRST_DATE)) | (x > pl.lit(LAST_DATE)),
                 pl.format("{} is outside the accepted dates; expected " + DATE_RANGE, x)),
        ]
    elif c.type in ("int", "float"):
        rules += number_rules(c, typed)
    return rules


def number_rules(c: Column, typed: pl.DataType | None = None) -> list[Rule]:
    """A number cell: parsed, finite, of the right sign, whole where a count, within its bounds.

    ``typed``: the number type the reader gave the cell (the fast pass over typed reads; None for
    text). The rules a value of that type cannot break are left out: a number the reader typed has
    parsed, and an integer is finite and whole."""
    raw, expect = pl.col(c.name), c.expectation()
    x, text = raw.cast(pl.Float64, strict=False), shown(c.name)
    integer = typed is not None and typed.is_integer()
    rules = [] if typed is not None else [
        Rule(c.name, raw.is_not_null() & x.is_null(), _say(expect, "'{}' is not a number", text))]
    if not integer:
        rules += [Rule(c.name, x.is_nan(), _say(expect, "{} is not a finite number", text)),
                  Rule(c.name, x.is_infinite(), _say(expect, "{} is infinite or too large", text))]
    if c.minimum is not None and c.minimum >= 0:
        rules.append(Rule(c.name, x < 0, _say(expect, "{} is negative", text)))
    if c.minimum is not None and (c.exclusive_minimum or c.minimum >= 1):
        rules.append(Rule(c.name, x == 0, _say(expect, "{} is zero", text)))
    if c.type == "int" and not integer:
        rules.append(Rule(c.name, x.floor() != x, _say(expect, "{} is not a whole number", text)))
    if c.maximum is not None:
        rules.append(Rule(c.name, x > c.maximum, _say(expect, f"{{}} is above {c.maximum:g}", text)))
    if c.plausible_maximum is not None:
        low = _number_text(c.minimum or 0)
        rules.append(Rule(c.name, x > c.plausible_maximum, pl.format(
            f"{{}} is implausible ({c.plausible_reason}); expected a value from {low} to "
            f"{_number_text(c.plausible_maximum)}", text)))
    return rules


# --- rules across cells --------------------------------------------------------------------------

def lookup(expr: pl.Expr, mapping: dict[str, Any], dtype: pl.DataType) -> pl.Expr:
    """Map values through a dict (unknown -> null).

    A when/then chain streams; ``replace_strict`` does not (it loads a large file whole), so the
    chain is used for the short mappings that meet large files (a file's distinct accelerators);
    long ones (the catalog's peak table) only meet small training files.
    """
    if len(mapping) > _CHAIN_LIMIT:
        return expr.replace_strict(list(mapping), list(mapping.values()), default=None, return_dtype=dtype)
    if not mapping:
        return pl.lit(None, dtype=dtype)
    items = iter(mapping.items())
    key, value = next(items)
    chain: Any = pl.when(expr == key).then(pl.lit(value, dtype=dtype))
    for key, value in items:
        chain = chain.when(expr == key).then(pl.lit(value, dtype=dtype))
    return chain.otherwise(pl.lit(None, dtype=dtype))


def unknown_accelerator_messages(names: Iterable[str], catalog: Catalog) -> dict[str, str]:
    out = {}
    for name in names:
        if catalog.try_resolve(name) is None:
            suggestions = catalog.suggest(name)
            hint = f"did you mean {', '.join(repr(s) for s in suggestions)}? " if suggestions else ""
            out[name] = (f"unknown accelerator {name[:_SHOWN_CHARS]!r}; {hint}expected a catalog name or "
                         f"alias ({CATALOG_HINT})")
    return out


def accelerator_rule(unknown: dict[str, str]) -> Rule:
    """The accelerator must resolve in the catalog; ``unknown`` maps the file's unknown names to words."""
    message = lookup(pl.col("accelerator"), unknown, pl.String())
    return Rule("accelerator", message.is_not_null(), message)


# Catalogs are loaded once and cached, so their peak tables are too (keyed by identity).
_PEAK_TABLES: dict[int, tuple[Catalog, list[str], list[float]]] = {}


def _peak_table(catalog: Catalog) -> tuple[list[str], list[float]]:
    cached = _PEAK_TABLES.get(id(catalog))
    if cached is not None and cached[0] is catalog:
        return cached[1], cached[2]
    keys, peaks = [], []
    for name in catalog.names:
        for precision in PRECISIONS:
            try:
                peak, _used = catalog.peak_flop_per_s(name, precision)
            except ValueError:
                continue
            keys.append(f"{name}|{precision}")
            peaks.append(peak)
    _PEAK_TABLES[id(catalog)] = (catalog, keys, peaks)
    return keys, peaks


def _peak_lookup(catalog: Catalog) -> pl.Expr:
    """Dense peak FLOP/s of (canonical accelerator, precision), after the catalog's fallback."""
    keys, peaks = _peak_table(catalog)
    key = pl.concat_str([v("accelerator"), v("precision").fill_null(_DEFAULT_PRECISION)], separator="|")
    return lookup(key, dict(zip(keys, peaks, strict=True)), pl.Float64())


def training_rules(catalog: Catalog) -> list[Rule]:
    limit = f"expected at most {kinds.MAX_RUN_FLOP:.0e} FLOP for a single run"
    params = pl.coalesce(v("active_parameters"), v("parameters"))
    arch_flop = 6 * params * v("training_tokens")
    chip_hours = pl.coalesce(v("accelerator_count") * v("training_hours"), v("chip_hours"))
    hw_flop = chip_hours * 3600 * _peak_lookup(catalog) * v("utilization").fill_null(1.0)
    days = (v("end_date") - v("start_date")).dt.total_days()
    max_days = kinds.MAX_RUN_YEARS * 365.25
    has_method = (
        (present("accelerator") & (present("accelerator_count", "training_hours") | present("chip_hours")))
        | present("parameters", "training_tokens")
        | present("reported_flop")
    )
    return [
        Rule(None, ~has_method, pl.lit(
            "no compute method; expected accelerator with accelerator_count and training_hours (or "
            "chip_hours), or parameters and training_tokens, or reported_flop")),
        Rule("end_date", v("end_date") < v("start_date"), pl.format(
            "{} is before start_date {}; expected end_date on or after start_date", v("end_date"), v("start_date"))),
        Rule("end_date", days > max_days, pl.format(
            "the run lasts {} days from start_date (more than five years); expected at most "
            f"{max_days:.0f} days", days)),
        Rule("active_parameters", v("active_parameters") > v("parameters"), pl.format(
            "{} is more than parameters ({}); expected active_parameters <= parameters",
            pl.col("active_parameters"), pl.col("parameters"))),
        Rule("training_tokens", arch_flop > kinds.MAX_RUN_FLOP, pl.format(
            "6 x parameters x training_tokens = {} FLOP is implausible; " + limit, arch_flop)),
        Rule("accelerator_count", (hw_flop > kinds.MAX_RUN_FLOP) & present("accelerator_count"),
              pl.format("chips x hours x 3600 x peak = {} FLOP is implausible; " + limit, hw_flop)),
        Rule("chip_hours", (hw_flop > kinds.MAX_RUN_FLOP) & ~present("accelerator_count"),
              pl.format("chip_hours x 3600 x peak = {} FLOP is implausible; " + limit, hw_flop)),
    ]


FIGURES = ("input_tokens", "output_tokens", "accelerator_hours")  # a usage row needs one of them


def usage_row_rules() -> list[Rule]:
    """Rules of a usage row over its figures (checked per row in the fast pass)."""
    return [Rule(None, ~pl.any_horizontal(present(n) for n in FIGURES), pl.lit(
        "no usage figure; expected input_tokens or output_tokens, or accelerator_hours, or both"))]


def usage_key_rules() -> list[Rule]:
    """Rules of a usage row over its key cells (checked once per distinct key in the fast pass;
    ``accelerator_hours`` there is present where any row of the key gives it)."""
    return [
        Rule("period_end", v("period_end") < v("period_start"), pl.format(
            "{} is before period_start {}; expected period_end on or after period_start",
            v("period_end"), v("period_start"))),
        Rule("accelerator", present("accelerator_hours") & ~present("accelerator"), pl.lit(
            "is empty while accelerator_hours is given; expected the fleet accelerator")),
    ]


def first_message(rules: list[Rule]) -> pl.Expr:
    """The message of the first rule broken, null where none is (the message pass)."""
    chain: Any = pl.when(rules[0].breaks).then(rules[0].says)
    for rule in rules[1:]:
        chain = chain.when(rule.breaks).then(rule.says)
    return chain.otherwise(None)


def any_broken(rules: Iterable[Rule]) -> pl.Expr:
    """True where any rule breaks, false elsewhere (the fast pass: no message is built). Nulls
    are filled once: ``any_horizontal`` is true wherever one predicate is, whatever the others."""
    return pl.any_horizontal(r.breaks for r in rules).fill_null(False)
