"""Header rules: names match case-insensitively in any order; unknown names are errors.

A typo such as ``acclerator`` must not be silently dropped (its data would vanish), so an unknown
column rejects the file with the closest known name as a suggestion.
"""

from __future__ import annotations

import difflib

import polars as pl

from tracker.filing.kinds import Kind
from tracker.filing.problems import DisclosureRejected, Problem
from tracker.filing.read import RawTable, check_column_count

NO_RECORDS = Problem.file("the file has a header but no records; expected at least one record")
# Fixed (issue 15): a header of 300k unknown names cost one difflib comparison each (19 s and
# 1.27 GB for a 2.9 MB upload). The count is capped before any per-column work (read.py checks it
# as each format is read), and only the first unknown names get a suggestion.
MAX_SUGGESTIONS = 20
_LONGEST_TYPO = 80
_SHOWN_CHARS = 80


def normalize(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


def column_mapping(header: list[str], kind: Kind, blank_columns: set[int]) -> dict[int, str]:
    """Position in the file -> the kind's column name; raises with every header problem.

    ``blank_columns`` are positions whose cells are all empty: an unnamed one is a spreadsheet's
    trailing comma, not data, and is ignored.
    """
    check_column_count(len(header))
    problems: list[Problem] = []
    suggested = 0
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
            suggested += 1
            problems.append(Problem.header(_unknown(original, name, kind, suggest=suggested <= MAX_SUGGESTIONS)))
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


def _unknown(original: str, name: str, kind: Kind, *, suggest: bool) -> str:
    close = suggestion(name, kind) if suggest else None
    hint = f"did you mean {close!r}? " if close else ""
    return f"unknown column {original[:_SHOWN_CHARS]!r}; {hint}expected one of {', '.join(kind.names)}"


def suggestion(name: str, kind: Kind) -> str | None:
    """The kind's column a typo most likely meant, or None.

    difflib's ratio needs at least 0.6, so a name more than four times as long (or short) as a
    column can never match it: such candidates are skipped, and a name longer than any column
    plausibly misspells is not compared at all (a 2 MB header name would cost seconds otherwise).
    """
    if len(name) > _LONGEST_TYPO:
        return None
    candidates = [c for c in kind.names if len(c) <= 4 * len(name) and len(name) <= 4 * len(c)]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    return close[0] if close else None
