"""The message pass: text cells -> typed records, or every problem worded (pure; no database).

The rules themselves are in ``rules.py``; here they are run over the text read, each column's
rules as one chain that yields the message of the first rule its cell breaks (null where none
does), so problems are gathered by filtering the rows where any message is set: no Python loop per
row. Cells are stripped of surrounding whitespace; text is otherwise kept verbatim (formula-like
text such as ``=SUM(A1)`` is neutralised on export, not here). A row whose cells are all empty (a
blank line) is skipped but still counted, so later row numbers match the file.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from tracker.catalog.accelerators import Catalog
from tracker.filing.header import NO_RECORDS
from tracker.filing.kinds import Column, Kind
from tracker.filing.problems import MAX_PROBLEMS, DisclosureRejected, Problem, truncated
from tracker.filing.rules import (
    Rule,
    accelerator_rule,
    any_broken,
    cell_rules,
    first_message,
    lookup,
    shown,
    training_rules,
    unknown_accelerator_messages,
    usage_key_rules,
    usage_row_rules,
    v,
)
from tracker.text import normalized

ROW = "row"
_ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"
# Spreadsheets and Parquet hand dates over as timestamps at midnight; those are dates too.
_MIDNIGHT = r"[ T]00:00(:00(\.0+)?)?$"
_shown = shown  # the name the kind-specific rules (conditions.py) import


@dataclass(frozen=True)
class Check:
    """A column's rules: its message (text where the row fails, null where it passes) and, cheaper
    to evaluate, whether it fails (by default, whether there is a message)."""

    column: str | None
    message: pl.Expr
    fails: pl.Expr | None = None

    @classmethod
    def of(cls, rules: list[Rule]) -> Check:
        return cls(rules[0].column, first_message(rules), any_broken(rules))

    @property
    def failing(self) -> pl.Expr:
        return self.message.is_not_null() if self.fails is None else self.fails


def stripped_or_null(expr: pl.Expr) -> pl.Expr:
    """A cell as the rules see it: text without surrounding whitespace, null when nothing is left."""
    text = expr.cast(pl.String).str.strip_chars()
    return pl.when(text.str.len_bytes() > 0).then(text)


def prepared_cell(c: Column) -> pl.Expr:
    """A cell stripped (empty -> null), text in NFC (tracker/text.py)."""
    cell = stripped_or_null(pl.col(c.name))
    return (normalized(cell) if c.type == "text" else cell).alias(c.name)


def prepare(lf: pl.LazyFrame, kind: Kind) -> pl.LazyFrame:
    """Row numbers (unless the rows carry theirs), stripped cells, blank rows dropped."""
    # when/then rather than .replace(): replace() is not streamed and would load a large file whole.
    numbered = lf if ROW in lf.collect_schema() else lf.with_row_index(ROW, offset=1)  # some rows of a file
    return (
        numbered
        .with_columns(pl.col(ROW).cast(pl.Int64), *[prepared_cell(c) for c in kind.columns])
        .filter(pl.any_horizontal(pl.col(n).is_not_null() for n in kind.names))
    )


def _date(expr: pl.Expr) -> pl.Expr:
    text = expr.cast(pl.String).str.replace(_MIDNIGHT, "")
    return pl.when(text.str.contains(_ISO_DATE)).then(text.str.to_date("%Y-%m-%d", strict=False))


def parsed_value(c: Column) -> pl.Expr:
    """A prepared cell's value: numbers finite (NaN and infinities are the cell rules' to report; as
    values they would poison the cross-cell rules), dates, enums lower-cased, defaults filled."""
    raw = pl.col(c.name)
    if c.type in ("int", "float"):
        number = raw.cast(pl.Float64, strict=False)
        out: pl.Expr = pl.when(number.is_finite()).then(number)
    elif c.type == "date":
        out = _date(raw)
    elif c.type == "enum":
        out = raw.str.to_lowercase().fill_null(pl.lit(c.default, dtype=pl.String))
    else:
        out = raw.fill_null(pl.lit(c.default, dtype=pl.String)) if c.default is not None else raw
    return out.alias(f"{c.name}__v")


def parse_values(lf: pl.LazyFrame, columns: list[Column], accelerators: dict[str, str | None]) -> pl.LazyFrame:
    """The ``__v`` columns; the accelerator's is its catalog name (null when unknown)."""
    out = lf.with_columns(*[parsed_value(c) for c in columns])
    if any(c.name == "accelerator" for c in columns):
        out = out.with_columns(lookup(pl.col("accelerator"), accelerators, pl.String()).alias("accelerator__v"))
    return out


def rules_for(kind: Kind, catalog: Catalog, unknown_accelerators: dict[str, str]) -> list[Check]:
    out = [Check.of(cell_rules(c)) for c in kind.columns]
    out.append(Check.of([accelerator_rule(unknown_accelerators)]))
    cross: list[Rule] = []
    if kind.name == "training_runs":
        cross = training_rules(catalog)
    elif kind.name == "inference_usage":
        cross = [*usage_key_rules(), *usage_row_rules()]
    elif kind.name == "system_conditions":
        from tracker.filing.conditions import condition_check

        out.append(condition_check())
    return out + [Check.of([rule]) for rule in cross]


# --- running the rules -------------------------------------------------------------------------

def identity_values(kind: Kind) -> list[pl.Expr]:
    """A record's identity as compared: the parsed values, missing as ''."""
    return [v(n).cast(pl.String).fill_null("").alias(n) for n in kind.identity]


def repeat_problem(kind: Kind, rec: dict[str, object]) -> Problem:
    """The words for a record whose identity an earlier row already has (``__first``)."""
    if kind.name == "inference_usage":
        what = (f"repeats system {rec['system']!r} version {rec['version']!r} period "
                f"{rec['period_start']} to {rec['period_end']} segment {rec['segment']!r}")
        return Problem(int(rec[ROW]), None, f"{what} (first at row {rec['__first']}); expected one "  # type: ignore[call-overload]
                                            "row per system, version, period and segment")
    if kind.name == "system_conditions":
        return Problem(int(rec[ROW]), "condition", (  # type: ignore[call-overload]
            f"repeats condition {rec['condition']!r} of system {rec['system']!r} version {rec['version']!r} "
            f"(first at row {rec['__first']}); expected each condition once per system and version"))
    column = kind.identity[0]
    return Problem(int(rec[ROW]), column, f"{rec[column]!r} appears again (first at row "  # type: ignore[call-overload]
                                          f"{rec['__first']}); expected each {column} once per file")


def identity_hash(kind: Kind) -> pl.Expr:
    """64 bits of a record's identity (over :func:`identity_values`), to narrow the search for repeats."""
    return pl.struct(kind.identity).hash(seed=0).alias("__key")


def repeated_hashes(hashes: pl.Series) -> pl.Series:
    """Hashes that occur more than once: equal neighbours once sorted (8 bytes a row, where a hash
    table over tens of millions of identities would cost gigabytes). Sorted by the streaming engine,
    chunks as they come: 0.13-0.15 s for 10M hashes here, against 0.17-0.22 s for ``Series.sort``
    after a rechunk."""
    return (hashes.alias("h").to_frame().lazy().sort("h").filter(pl.col("h") == pl.col("h").shift(1))
            .unique().collect(engine="streaming").to_series())


def duplicates(lf: pl.LazyFrame, kind: Kind, limit: int) -> list[Problem]:
    """Rows whose identity an earlier row has. Hashes only narrow the search: the few rows that
    share one are compared on their values, so a hash collision is never reported as a repeat."""
    keyed = lf.select(ROW, *identity_values(kind)).with_columns(identity_hash(kind))
    shared = repeated_hashes(keyed.select("__key").collect(engine="streaming").get_column("__key"))
    if shared.is_empty():
        return []
    candidates = keyed.filter(pl.col("__key").is_in(shared.implode())).collect()
    firsts = candidates.group_by(list(kind.identity)).agg(pl.col(ROW).min().alias("__first"))
    repeats = candidates.join(firsts, on=list(kind.identity)).filter(pl.col(ROW) != pl.col("__first")) \
        .sort(ROW).head(limit + 1)
    return [repeat_problem(kind, rec) for rec in repeats.iter_rows(named=True)]


def find_problems(parsed: pl.LazyFrame, checks: list[Check], limit: int) -> list[Problem]:
    """The predicates first, over every row; the messages only for the failing rows found (at most
    ``limit + 1``: one more than shown tells truncated() that more exist) and the checks they fail.
    Building a message costs more than the rule: a clean column never builds one."""
    names = [f"__f{i}" for i in range(len(checks))]
    bad = (
        parsed.with_columns(*[c.failing.fill_null(False).alias(n) for c, n in zip(checks, names, strict=True)])
        .filter(pl.any_horizontal(names))
        .sort(ROW)
        .head(limit + 1)
        .collect()
    )
    if bad.is_empty():
        return []
    problems: list[Problem] = []
    for check, name in zip(checks, names, strict=True):
        hits = bad.filter(pl.col(name))
        if hits.height:
            worded = hits.select(ROW, check.message.alias("__message"))
            problems += [Problem(row, check.column, msg) for row, msg in worded.iter_rows()]
    return problems


def typed_columns(kind: Kind) -> list[pl.Expr]:
    return [pl.col(ROW), *[v(c.name).alias(c.name) for c in kind.columns]]


def typed_schema(kind: Kind) -> pl.Schema:
    """The schema of the typed records (what :func:`typed_columns` yields)."""
    types = {"int": pl.Float64, "float": pl.Float64, "date": pl.Date, "enum": pl.String, "text": pl.String}
    return pl.Schema({ROW: pl.Int64, **{c.name: types[c.type] for c in kind.columns}})


def validate_lazy(lf: pl.LazyFrame, kind: Kind, catalog: Catalog,
                  *, limit: int = MAX_PROBLEMS, earlier: list[Problem] | None = None,
                  skip: frozenset[str] = frozenset()) -> pl.LazyFrame:
    """Check every row; return the typed records lazily, or raise with every problem found
    (``earlier``: problems already found, such as the header's, reported with these; ``skip``:
    columns an unknown header name probably meant, whose rules would only say they are missing)."""
    prepared = prepare(lf, kind)
    if "accelerator" not in kind.by_name:  # system_conditions: the shared accelerator rule sees no value
        prepared = prepared.with_columns(pl.lit(None, pl.String).alias("accelerator"))
    distinct = prepared.select(pl.col("accelerator").drop_nulls().unique()).collect()
    names = distinct.get_column("accelerator").to_list()
    parsed = parse_values(prepared, list(kind.columns), {n: catalog.try_resolve(n) for n in names})
    problems = list(earlier or [])
    checks = [c for c in rules_for(kind, catalog, unknown_accelerator_messages(names, catalog))
              if not skip & {n.removesuffix("__v") for n in c.message.meta.root_names()}]
    problems += find_problems(parsed, checks, limit)
    problems += duplicates(parsed, kind, limit)
    # An empty body is caught by whoever collects the records (pipeline.py): counting rows here
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
