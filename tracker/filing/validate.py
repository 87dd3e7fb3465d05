"""Text cells -> typed records, or every problem at once (a pure function; no database).

Each rule is a polars expression that yields a message for a failing row and null otherwise, so
problems are gathered by filtering the rows where any message is set — no Python loop per row,
and the same code validates a 20-row upload and a streamed 10-million-row usage file. Cells are
stripped of surrounding whitespace; text is otherwise kept verbatim (formula-like text such as
``=SUM(A1)`` is neutralised on export, not here). A row whose cells are all empty (a blank line)
is skipped but still counted, so later row numbers match the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from tracker.catalog.accelerators import PRECISIONS, Catalog
from tracker.filing import kinds
from tracker.filing.header import NO_RECORDS
from tracker.filing.kinds import Column, Kind
from tracker.filing.problems import MAX_PROBLEMS, DisclosureRejected, Problem, truncated
from tracker.text import EXPECTED, INVISIBLE, invisible_message, normalized

ROW = "row"
_SHOWN_CHARS = 60
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
# Spreadsheets and Parquet hand dates over as timestamps at midnight; those are dates too.
_MIDNIGHT = r"[ T]00:00(:00(\.0+)?)?$"
_DEFAULT_PRECISION = "bf16"  # the format of almost every large run since 2020
_CHAIN_LIMIT = 64
NOTES = "notes"  # the one free-text column: tabs and line breaks allowed (tracker/text.py)


@dataclass(frozen=True)
class Check:
    column: str | None
    message: pl.Expr  # text where the row fails, null where it passes


def v(name: str) -> pl.Expr:
    """The parsed value of a column (added by :func:`_parse`)."""
    return pl.col(f"{name}__v")


def _shown(name: str) -> pl.Expr:
    # A quoted cell is shown on screens: a bidi control in it would reorder the message around it.
    return pl.col(name).str.slice(0, _SHOWN_CHARS).str.replace_all(INVISIBLE, "\ufffd")


def stripped_or_null(expr: pl.Expr) -> pl.Expr:
    """A cell as the rules see it: text without surrounding whitespace, null when nothing is left."""
    text = expr.cast(pl.String).str.strip_chars()
    return pl.when(text.str.len_bytes() > 0).then(text)


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


def prepare(lf: pl.LazyFrame, kind: Kind) -> pl.LazyFrame:
    """Row numbers, stripped cells (empty -> null), text in NFC (tracker/text.py), blank rows dropped."""
    # when/then rather than .replace(): replace() is not streamed and would load a large file whole.
    stripped = [(normalized(stripped_or_null(pl.col(c.name))) if c.type == "text" else stripped_or_null(pl.col(c.name)))
                .alias(c.name) for c in kind.columns]
    return (
        lf.with_row_index(ROW, offset=1)
        .with_columns(pl.col(ROW).cast(pl.Int64), *stripped)
        .filter(pl.any_horizontal(pl.col(n).is_not_null() for n in kind.names))
    )


# Dates a disclosure may carry, in every kind and column: from before the first digital training
# compute to far enough ahead for any planned run. Fixed, not relative to today, so that the core
# stays free of the clock and a file valid today stays valid. Year 1 or 9999 once overflowed the
# dashboard's date arithmetic (issue 15).
FIRST_DATE, LAST_DATE = date(1950, 1, 1), date(2099, 12, 31)
DATE_RANGE = f"a date from {FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}"


def _date(expr: pl.Expr) -> pl.Expr:
    text = expr.str.replace(_MIDNIGHT, "")
    return pl.when(text.str.contains(_ISO_DATE)).then(text.str.to_date("%Y-%m-%d", strict=False))


def _parse_expr(c: Column) -> pl.Expr:
    raw = pl.col(c.name)
    if c.type in ("int", "float"):
        # NaN and infinities are reported by the cell rule; as values they would poison the
        # cross-cell rules (NaN compares greater than everything in polars).
        number = raw.cast(pl.Float64, strict=False)
        return pl.when(number.is_finite()).then(number)
    if c.type == "date":
        return _date(raw)
    if c.type == "enum":
        return raw.str.to_lowercase().fill_null(pl.lit(c.default, dtype=pl.String))
    return raw.fill_null(pl.lit(c.default, dtype=pl.String)) if c.default is not None else raw


def _parse(lf: pl.LazyFrame, kind: Kind, accelerators: dict[str, str | None]) -> pl.LazyFrame:
    parsed = [_parse_expr(c).alias(f"{c.name}__v") for c in kind.columns]
    canonical = lookup(pl.col("accelerator"), accelerators, pl.String())
    return lf.with_columns(*parsed).with_columns(canonical.alias("accelerator__v"))


# --- rules of one cell -------------------------------------------------------------------------

def _say(expect: str, template: str, *args: pl.Expr) -> pl.Expr:
    return pl.format(template + "; expected " + expect.replace("{", "{{").replace("}", "}}"), *args)


def _number(value: float) -> str:
    return f"{value:,.0f}" if value < 1e9 and value == int(value) else f"{value:.0e}"


def _cell_check(c: Column) -> Check:
    raw, x, expect = pl.col(c.name), v(c.name), c.expectation()
    chain: Any = pl.when(pl.lit(c.required) & raw.is_null()).then(_say(expect, "is empty"))
    if c.type == "text":
        # Fixed (issue 15): bidi controls, zero-width characters and NUL were accepted (look-alike
        # names; a NUL made PostgreSQL answer a 500 page instead of a receipt).
        invisible = invisible_message(raw, notes=c.name == NOTES)
        chain = chain.when(invisible.is_not_null()).then(pl.format("{}; expected " + EXPECTED, invisible))
    if c.type == "text" and c.max_length:
        chain = chain.when(raw.str.len_chars() > c.max_length).then(
            _say(expect, "is {} characters long", raw.str.len_chars()))
    elif c.type == "enum":
        chain = chain.when(raw.is_not_null() & ~x.is_in(c.choices)).then(
            _say(expect, "'{}' is not a known {}", _shown(c.name), pl.lit(c.name)))
    elif c.type == "date":
        chain = chain.when(raw.is_not_null() & x.is_null()).then(
            _say(expect, "'{}' is not a valid date (or not a day that exists)", _shown(c.name))
        ).when((x < pl.lit(FIRST_DATE)) | (x > pl.lit(LAST_DATE))).then(
            pl.format("{} is outside the accepted dates; expected " + DATE_RANGE, x))
    elif c.type in ("int", "float"):
        chain = _number_chain(chain, c)
    return Check(c.name, chain.otherwise(None))


def _number_chain(chain: Any, c: Column) -> Any:
    raw, shown, expect = pl.col(c.name), _shown(c.name), c.expectation()
    x = raw.cast(pl.Float64, strict=False)
    chain = (
        chain.when(raw.is_not_null() & x.is_null()).then(_say(expect, "'{}' is not a number", shown))
        .when(x.is_nan()).then(_say(expect, "{} is not a finite number", shown))
        .when(x.is_infinite()).then(_say(expect, "{} is infinite or too large", shown))
    )
    if c.minimum is not None and c.minimum >= 0:
        chain = chain.when(x < 0).then(_say(expect, "{} is negative", shown))
    if c.minimum is not None and (c.exclusive_minimum or c.minimum >= 1):
        chain = chain.when(x == 0).then(_say(expect, "{} is zero", shown))
    if c.type == "int":
        chain = chain.when(x.floor() != x).then(_say(expect, "{} is not a whole number", shown))
    if c.maximum is not None:
        chain = chain.when(x > c.maximum).then(_say(expect, f"{{}} is above {c.maximum:g}", shown))
    if c.plausible_maximum is not None:
        low = _number(c.minimum or 0)
        chain = chain.when(x > c.plausible_maximum).then(pl.format(
            f"{{}} is implausible ({c.plausible_reason}); expected a value from {low} to "
            f"{_number(c.plausible_maximum)}", shown))
    return chain


# --- rules across cells ------------------------------------------------------------------------

def _present(*names: str) -> pl.Expr:
    return pl.all_horizontal(pl.col(n).is_not_null() for n in names)


def _accelerator_check(unknown_messages: dict[str, str]) -> Check:
    message = lookup(pl.col("accelerator"), unknown_messages, pl.String())
    return Check("accelerator", message)


def _unknown_accelerator_messages(names: list[str], catalog: Catalog) -> dict[str, str]:
    out = {}
    for name in names:
        if catalog.try_resolve(name) is None:
            suggestions = catalog.suggest(name)
            hint = f"did you mean {', '.join(repr(s) for s in suggestions)}? " if suggestions else ""
            out[name] = (f"unknown accelerator {name[:_SHOWN_CHARS]!r}; {hint}expected a catalog name or "
                         "alias (see data/accelerators.csv)")
    return out


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


def _training_checks(catalog: Catalog) -> list[Check]:
    limit = f"expected at most {kinds.MAX_RUN_FLOP:.0e} FLOP for a single run"
    params = pl.coalesce(v("active_parameters"), v("parameters"))
    arch_flop = 6 * params * v("training_tokens")
    chip_hours = pl.coalesce(v("accelerator_count") * v("training_hours"), v("chip_hours"))
    hw_flop = chip_hours * 3600 * _peak_lookup(catalog) * v("utilization").fill_null(1.0)
    days = (v("end_date") - v("start_date")).dt.total_days()
    max_days = kinds.MAX_RUN_YEARS * 365.25
    has_method = (
        (_present("accelerator") & (_present("accelerator_count", "training_hours") | _present("chip_hours")))
        | _present("parameters", "training_tokens")
        | _present("reported_flop")
    )
    return [
        Check(None, pl.when(~has_method).then(pl.lit(
            "no compute method; expected accelerator with accelerator_count and training_hours (or "
            "chip_hours), or parameters and training_tokens, or reported_flop"))),
        Check("end_date", pl.when(v("end_date") < v("start_date")).then(pl.format(
            "{} is before start_date {}; expected end_date on or after start_date",
            v("end_date"), v("start_date")))),
        Check("end_date", pl.when(days > max_days).then(pl.format(
            "the run lasts {} days from start_date (more than five years); expected at most "
            f"{max_days:.0f} days", days))),
        Check("active_parameters", pl.when(v("active_parameters") > v("parameters")).then(pl.format(
            "{} is more than parameters ({}); expected active_parameters <= parameters",
            pl.col("active_parameters"), pl.col("parameters")))),
        Check("training_tokens", pl.when(arch_flop > kinds.MAX_RUN_FLOP).then(pl.format(
            "6 x parameters x training_tokens = {} FLOP is implausible; " + limit, arch_flop))),
        Check("accelerator_count", pl.when((hw_flop > kinds.MAX_RUN_FLOP) & _present("accelerator_count"))
              .then(pl.format("chips x hours x 3600 x peak = {} FLOP is implausible; " + limit, hw_flop))),
        Check("chip_hours", pl.when((hw_flop > kinds.MAX_RUN_FLOP) & ~_present("accelerator_count"))
              .then(pl.format("chip_hours x 3600 x peak = {} FLOP is implausible; " + limit, hw_flop))),
    ]


# A rule added here must be added to the screen of large usage files too (screen.py), which
# otherwise would let a file pass that this path rejects; tests/filing/test_filing_screen.py.
def _usage_checks() -> list[Check]:
    return [
        Check("period_end", pl.when(v("period_end") < v("period_start")).then(pl.format(
            "{} is before period_start {}; expected period_end on or after period_start",
            v("period_end"), v("period_start")))),
        Check(None, pl.when(~pl.any_horizontal(_present("input_tokens"), _present("output_tokens"),
                                               _present("accelerator_hours"))).then(pl.lit(
            "no usage figure; expected input_tokens or output_tokens, or accelerator_hours, or both"))),
        Check("accelerator", pl.when(_present("accelerator_hours") & ~_present("accelerator")).then(pl.lit(
            "is empty while accelerator_hours is given; expected the fleet accelerator"))),
    ]


def checks_for(kind: Kind, catalog: Catalog, unknown_accelerators: dict[str, str]) -> list[Check]:
    out = [_cell_check(c) for c in kind.columns]
    out.append(_accelerator_check(unknown_accelerators))
    if kind.name == "training_runs":
        out += _training_checks(catalog)
    elif kind.name == "inference_usage":
        out += _usage_checks()
    elif kind.name == "system_conditions":
        from tracker.filing.conditions import condition_check

        out.append(condition_check())
    return out


# --- running the rules -------------------------------------------------------------------------

def _identity_key(kind: Kind) -> list[pl.Expr]:
    return [v(n).cast(pl.String).fill_null("") for n in kind.identity]


def _duplicated_keys(keyed: pl.LazyFrame) -> pl.Series:
    """Identity hashes that occur more than once, found by sorting 8 bytes per row.

    A hash table over tens of millions of keys costs gigabytes; a sorted column of 64-bit hashes
    costs 8 bytes per row, and equal neighbours are the duplicates. A false match needs a 64-bit
    collision (~1e-5 for 2e7 rows), and its message names both rows for the provider to check.
    """
    hashes = keyed.select("__key").collect(engine="streaming").get_column("__key").sort()
    if hashes.len() < 2:
        return hashes.clear()
    repeated = hashes.slice(1).filter(hashes.slice(1) == hashes.slice(0, hashes.len() - 1))
    return repeated.unique()


def _duplicates(lf: pl.LazyFrame, kind: Kind, limit: int) -> list[Problem]:
    keyed = lf.select(ROW, *[c.alias(n) for c, n in zip(_identity_key(kind), kind.identity, strict=True)]) \
        .with_columns(pl.struct(kind.identity).hash(seed=0).alias("__key"))
    duplicated = _duplicated_keys(keyed)
    if duplicated.is_empty():
        return []
    candidates = keyed.filter(pl.col("__key").is_in(duplicated.implode()))
    firsts = candidates.group_by("__key").agg(pl.col(ROW).min().alias("__first"))
    repeats = candidates.join(firsts, on="__key").filter(pl.col(ROW) != pl.col("__first")) \
        .sort(ROW).head(limit + 1).collect()
    problems = []
    for rec in repeats.iter_rows(named=True):  # at most `limit` rows: messages, not validation
        if kind.name == "inference_usage":
            what = (f"repeats system {rec['system']!r} version {rec['version']!r} period "
                    f"{rec['period_start']} to {rec['period_end']} segment {rec['segment']!r}")
            problems.append(Problem(rec[ROW], None, f"{what} (first at row {rec['__first']}); expected one "
                                                    "row per system, version, period and segment"))
        elif kind.name == "system_conditions":
            problems.append(Problem(rec[ROW], "condition", (
                f"repeats condition {rec['condition']!r} of system {rec['system']!r} version {rec['version']!r} "
                f"(first at row {rec['__first']}); expected each condition once per system and version")))
        else:
            column = kind.identity[0]
            problems.append(Problem(rec[ROW], column, f"{rec[column]!r} appears again (first at row "
                                                      f"{rec['__first']}); expected each {column} once "
                                                      "per file"))
    return problems


def find_problems(parsed: pl.LazyFrame, checks: list[Check], limit: int) -> list[Problem]:
    names = [f"__m{i}" for i in range(len(checks))]
    bad = (
        parsed.select(ROW, *[c.message.alias(n) for c, n in zip(checks, names, strict=True)])
        .filter(pl.any_horizontal(pl.col(n).is_not_null() for n in names))
        .sort(ROW)
        .head(limit + 1)  # one more than shown tells truncated() that more exist
        .collect()
    )
    problems: list[Problem] = []
    for check, name in zip(checks, names, strict=True):
        hits = bad.filter(pl.col(name).is_not_null()).select(ROW, name)
        problems += [Problem(row, check.column, msg) for row, msg in hits.iter_rows()]
    return problems


def typed_columns(kind: Kind) -> list[pl.Expr]:
    return [pl.col(ROW), *[v(c.name).alias(c.name) for c in kind.columns]]


def validate_lazy(lf: pl.LazyFrame, kind: Kind, catalog: Catalog,
                  *, limit: int = MAX_PROBLEMS) -> pl.LazyFrame:
    """Check every row; return the typed records lazily, or raise with every problem found."""
    prepared = prepare(lf, kind)
    if "accelerator" not in kind.by_name:  # system_conditions: the shared accelerator rules see no value
        prepared = prepared.with_columns(pl.lit(None, pl.String).alias("accelerator"))
    distinct = prepared.select(pl.col("accelerator").drop_nulls().unique()).collect()
    names = distinct.get_column("accelerator").to_list()
    mapping = {n: catalog.try_resolve(n) for n in names}
    parsed = _parse(prepared, kind, mapping)
    problems = find_problems(parsed, checks_for(kind, catalog, _unknown_accelerator_messages(names, catalog)),
                             limit)
    problems += _duplicates(parsed, kind, limit)
    # An empty body is caught by whoever collects the records (parse._finish): counting rows here
    # would be one more full scan of a file that may hold tens of millions of them.
    if problems:
        raise DisclosureRejected(truncated(problems, limit))
    return parsed.select(typed_columns(kind))


def validate(frame: pl.DataFrame, kind: Kind, catalog: Catalog, *, limit: int = MAX_PROBLEMS) -> pl.DataFrame:
    """Eager form for in-memory files."""
    records = validate_lazy(frame.lazy(), kind, catalog, limit=limit).collect().sort(ROW)
    return require_records(records, records.height)


def require_records(records: pl.DataFrame, rows: int) -> pl.DataFrame:
    if rows == 0:
        raise DisclosureRejected.one(NO_RECORDS)
    return records
