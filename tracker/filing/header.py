"""Header rules: names match case-insensitively in any order; unknown names are errors.

A typo such as ``acclerator`` must not be silently dropped (its data would vanish), so an unknown
column rejects the file with the closest known name as a suggestion.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import polars as pl

from tracker.filing.kinds import Kind
from tracker.filing.problems import DisclosureRejected, Problem
from tracker.filing.read import check_column_count

NO_RECORDS = Problem.file("the file has a header but no records; expected at least one record")
# Fixed (issue 15): a header of 300k unknown names cost one difflib comparison each (19 s and
# 1.27 GB for a 2.9 MB upload). The count is capped before any per-column work (read.py checks it
# as each format is read), and only the first unknown names get a suggestion.
MAX_SUGGESTIONS = 20
_LONGEST_TYPO = 80
_SHOWN_CHARS = 80


def normalize(name: str) -> str:
    return name.replace("\ufeff", "").strip().lower()


@dataclass(frozen=True)
class Mapped:
    """The file's columns under the kind's names, with what is wrong with the header.

    ``problems`` do not stop the rows being checked (an unknown, repeated or unnamed column: the
    columns that map are still read); ``unsure`` are the kind's columns an unknown name probably
    meant, whose rules are not run (their cells are missing, not wrong).
    """

    frame: pl.LazyFrame
    problems: list[Problem]
    unsure: frozenset[str]


def blank_columns(lf: pl.LazyFrame, sources: list[str], indexes: list[int]) -> set[int]:
    """Of ``indexes``, the columns whose cells are all empty (a spreadsheet's trailing comma)."""
    if not indexes:
        return set()
    counts = lf.select(
        [(pl.col(sources[i]).cast(pl.String).str.strip_chars().str.len_bytes() > 0).sum().alias(str(i))
         for i in indexes]).collect(engine="streaming")
    return {i for i in indexes if counts.get_column(str(i)).item() == 0}


def conform(header: list[str], lf: pl.LazyFrame, kind: Kind) -> Mapped:
    """Map the columns (``lf``'s are named c0, c1, ... as ``header`` names them); raises when the
    header cannot be mapped (a required column missing), with every header problem."""
    check_column_count(len(header))
    sources = lf.collect_schema().names()
    unnamed = [i for i, h in enumerate(header) if not normalize(h)]
    problems: list[Problem] = []
    unsure: set[str] = set()
    mapping: dict[int, str] = {}
    seen: dict[str, int] = {}
    unknown = 0
    blank = blank_columns(lf, sources, unnamed)
    for index, original in enumerate(header):
        name, position = normalize(original), index + 1
        if not name:
            if index not in blank:
                problems.append(Problem.header(f"column {position} has no name but holds values; expected "
                                               f"one of {', '.join(kind.names)}"))
            continue
        if name in seen:
            problems.append(Problem.header(f"column {original!r} appears twice (columns {seen[name]} and "
                                           f"{position}); expected each column once"))
            continue
        seen[name] = position
        if name not in kind.by_name:
            unknown += 1
            close = suggestion(name, kind) if unknown <= MAX_SUGGESTIONS else None
            unsure |= {close} if close else set()
            problems.append(Problem.header(_unknown(original, close) + f"expected one of {', '.join(kind.names)}"))
            continue
        mapping[index] = name
    missing = [n for n in kind.required if n not in seen]
    if missing:
        problems.append(Problem.header(
            f"missing required column{'s' if len(missing) > 1 else ''} {', '.join(missing)}; "
            f"a {kind.name} file needs {', '.join(kind.required)}"
        ))
        raise DisclosureRejected(problems)
    present = {name: pl.col(sources[index]).alias(name) for index, name in mapping.items()}
    frame = lf.select([present.get(n, pl.lit(None, dtype=pl.String).alias(n)) for n in kind.names])
    return Mapped(frame, problems, frozenset(unsure - set(mapping.values())))


def _unknown(original: str, close: str | None) -> str:
    hint = f"did you mean {close!r}? " if close else ""
    return f"unknown column {original[:_SHOWN_CHARS]!r}; {hint}"


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
