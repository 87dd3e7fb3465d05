"""Header rules: names match case-insensitively in any order; unknown names are errors.

A typo such as ``acclerator`` must not be silently dropped (its data would vanish), so an unknown
column rejects the file with the closest known name as a suggestion.
"""

from __future__ import annotations

import difflib

import polars as pl

from tracker.filing.kinds import Kind
from tracker.filing.problems import DisclosureRejected, Problem
from tracker.filing.read import RawTable

NO_RECORDS = Problem.file("the file has a header but no records; expected at least one record")


def normalize(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def column_mapping(header: list[str], kind: Kind, blank_columns: set[int]) -> dict[int, str]:
    """Position in the file -> the kind's column name; raises with every header problem.

    ``blank_columns`` are positions whose cells are all empty: an unnamed one is a spreadsheet's
    trailing comma, not data, and is ignored.
    """
    problems: list[Problem] = []
    mapping: dict[int, str] = {}
    seen: dict[str, int] = {}
    for index, original in enumerate(header):
        name, position = normalize(original), index + 1
        if not name:
            if index not in blank_columns:
                problems.append(Problem.header(f"column {position} has no name but holds values; expected "
                                               f"one of {', '.join(kind.names)}"))
            continue
        if name in seen:
            problems.append(Problem.header(f"column {original!r} appears twice (columns {seen[name]} and "
                                           f"{position}); expected each column once"))
            continue
        seen[name] = position
        if name not in kind.by_name:
            problems.append(Problem.header(_unknown(original, name, kind)))
            continue
        mapping[index] = name
    missing = [n for n in kind.required if n not in seen]
    if missing:
        problems.append(Problem.header(
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"a {kind.name} file needs {', '.join(kind.required)}"
        ))
    if problems:
        raise DisclosureRejected(problems)
    return mapping


def apply_mapping(lf: pl.LazyFrame, sources: list[str], mapping: dict[int, str], kind: Kind) -> pl.LazyFrame:
    """Select the mapped columns under the kind's names; absent optional columns become null."""
    present = {name: pl.col(sources[index]).alias(name) for index, name in mapping.items()}
    return lf.select([present.get(n, pl.lit(None, dtype=pl.String).alias(n)) for n in kind.names])


def conform(raw: RawTable, kind: Kind) -> pl.DataFrame:
    """The table with the kind's columns, in the kind's order, as text."""
    unnamed = [i for i, h in enumerate(raw.header) if not normalize(h)]
    blank = {
        i for i in unnamed
        if raw.frame.get_column(raw.frame.columns[i]).str.strip_chars().fill_null("").str.len_chars().max()
        in (0, None)
    }
    mapping = column_mapping(raw.header, kind, blank)
    if raw.frame.height == 0:
        raise DisclosureRejected.one(NO_RECORDS)
    return apply_mapping(raw.frame.lazy(), raw.frame.columns, mapping, kind).collect()


def _unknown(original: str, name: str, kind: Kind) -> str:
    close = difflib.get_close_matches(name, kind.names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown column {original!r}; {hint}expected one of {', '.join(kind.names)}"
