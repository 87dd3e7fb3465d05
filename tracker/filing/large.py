"""Large files read lazily (inference usage exports of tens of millions of rows).

The file is never loaded whole. A CSV's header is read on its own and ``scan_csv`` streams the
rest; a Parquet file is read by row groups (``scan_parquet``). Either way the caller gets a lazy
table with the kind's column names, every cell as text (for the exact validation expressions, as
in memory: UTF-8 is then checked in chunks first) or typed (for the one-pass screen,
``screen.py``). Only the first problem rows and the per-period aggregate are ever materialised, so
peak memory depends on the number of distinct keys, not on the file size.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import polars as pl

from tracker.filing.header import apply_mapping, column_mapping, normalize
from tracker.filing.kinds import Kind
from tracker.filing.problems import DisclosureRejected, Problem
from tracker.filing.read import (
    BOM,
    EXPECT_UTF8,
    check_column_count,
    clean_header,
    column_type_problems,
    not_utf8_problem,
)

LARGE_FILE_BYTES = 64 * 1024 * 1024  # above this, usage CSVs take the streaming path
_CHUNK_BYTES = 4 * 1024 * 1024


def check_utf8(path: Path) -> None:
    """Raise naming the byte offset of the first invalid byte, reading 4 MB at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    newlines = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # Re-read the chunk's prefix to report the line the bad byte is on.
                bad = offset + max(exc.start, 0)
                line = newlines + chunk.count(b"\n", 0, max(exc.start, 0)) + 1
                raise DisclosureRejected.one(Problem.file(
                    f"text is not UTF-8: byte at byte offset {bad} (line {line}); {EXPECT_UTF8}")) from None
            offset += len(chunk)
            newlines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise DisclosureRejected.one(not_utf8_problem(b"", offset)) from None


def scan_csv(path: Path, kind: Kind, *, typed: bool = False) -> pl.LazyFrame:
    """The file as a lazy table with the kind's column names: all text, or (``typed``) with the
    kind's number columns parsed by the reader as Float64.

    Typed, the encoding is not checked beforehand: the reader validates UTF-8 in every text cell
    (a polars String cannot hold anything else), a number cell with a stray byte does not parse,
    and the header is read as text too. Any of these makes the reader raise, and the screen's
    caller then takes the exact path, which checks the encoding first and names the byte.
    """
    with path.open("rb") as handle:
        start = handle.read(_CHUNK_BYTES)
    if not start.removeprefix(BOM).strip() and path.stat().st_size <= len(start):
        raise DisclosureRejected.one(Problem.file("the file is empty; expected a header row and records"))
    if not typed:
        check_utf8(path)
    check_column_count(_header_width(start))
    try:
        header_frame = pl.read_csv(path, has_header=False, n_rows=1, infer_schema=False)
        header = [h or "" for h in header_frame.row(0)]
        numbers = {f"c{i}": pl.Float64 for i, h in enumerate(header)
                   if typed and (c := kind.by_name.get(normalize(h))) is not None and c.type in ("int", "float")}
        lf = pl.scan_csv(
            path, has_header=True, infer_schema=False, empty_string_is_null=False,
            with_column_names=lambda cols: [f"c{i}" for i in range(len(cols))], schema_overrides=numbers or None,
        )
    except Exception as exc:  # polars raises several types on malformed text
        raise DisclosureRejected.one(Problem.file(f"cannot parse as CSV ({str(exc).strip()[:200]})")) from None
    sources = [f"c{i}" for i in range(len(header))]
    unnamed = [i for i, h in enumerate(header) if not normalize(h)]
    blank = set(unnamed) if not unnamed else _blank_columns(lf, sources, unnamed)
    mapping = column_mapping(header, kind, blank)
    return apply_mapping(lf, sources, mapping, kind)


def _header_width(start: bytes) -> int:
    """Fields in the first record, from the file's first bytes. A header longer than them has more
    fields than the cap allows anyway (the cap is far below 4 MB of names), so a partial first line
    counts what it holds."""
    first = start.removeprefix(BOM).split(b"\n", 1)[0].decode("utf-8", errors="replace")
    try:
        return len(next(csv.reader([first]), []))
    except csv.Error:
        return first.count(",") + 1


def _blank_columns(lf: pl.LazyFrame, sources: list[str], indexes: list[int]) -> set[int]:
    counts = lf.select(
        [(pl.col(sources[i]).str.strip_chars().str.len_bytes() > 0).sum().alias(str(i)) for i in indexes]
    ).collect(engine="streaming")
    return {i for i in indexes if counts.get_column(str(i)).item() == 0}


def scan_parquet(path: Path, kind: Kind, *, typed: bool = False) -> pl.LazyFrame:
    """The file as a lazy table with the kind's column names: every cell as text, as ``read.py``
    makes of a Parquet file in memory, or (``typed``) in the file's own types.

    Polars errors (a file that is not Parquet) propagate: the caller reads such a file in memory,
    whose reader words the problem.
    """
    lf = pl.scan_parquet(path)
    schema = lf.collect_schema()
    check_column_count(len(schema))
    problems = column_type_problems(schema)
    if problems:
        raise DisclosureRejected(problems)
    sources = schema.names()
    header = clean_header(sources)
    text = lf.select(pl.all().cast(pl.String))
    unnamed = [i for i, h in enumerate(header) if not normalize(h)]
    blank = set() if not unnamed else _blank_columns(text, sources, unnamed)
    mapping = column_mapping(header, kind, blank)
    return apply_mapping(lf if typed else text, sources, mapping, kind)
