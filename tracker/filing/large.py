"""Files read lazily: a CSV above the in-memory size, and every Parquet file (of any kind's usage).

The file (a path, or bytes already in memory) is never copied whole into a table of text: a CSV's
header is read on its own and ``scan_csv`` streams the rest; a Parquet file is read by row groups
(``scan_parquet``). The caller gets a lazy table whose columns are named c0, c1, ... as the header
orders them, every cell as text (the message pass) or with the kind's number columns typed by the
reader (the fast pass). Only the first problem rows and the per-period aggregate are ever
materialised, so peak memory depends on the number of distinct keys, not on the file size.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl

from tracker.filing.header import normalize
from tracker.filing.kinds import Kind
from tracker.filing.problems import DisclosureRejected, Problem
from tracker.filing.read import BOM, check_column_count, clean_header, column_type_problems

LARGE_FILE_BYTES = 64 * 1024 * 1024  # above this, CSVs are streamed rather than read in memory
_HEAD_BYTES = 4 * 1024 * 1024

Source = bytes | Path


def head(source: Source) -> bytes:
    """The first bytes of the file (enough for its header)."""
    if isinstance(source, bytes):
        return source[:_HEAD_BYTES]
    with source.open("rb") as handle:
        return handle.read(_HEAD_BYTES)


def size_of(source: Source) -> int:
    return len(source) if isinstance(source, bytes) else source.stat().st_size


def _readable(source: Source) -> Path | io.BytesIO:
    return io.BytesIO(source) if isinstance(source, bytes) else source


def csv_header(start: bytes) -> list[str]:
    """The first CSV record, from the file's first bytes, as the file names its columns. A header
    longer than them has more fields than the cap allows anyway (far below 4 MB of names)."""
    first = start.removeprefix(BOM).split(b"\n", 1)[0].decode("utf-8", errors="replace").rstrip("\r")
    try:
        header = next(csv.reader([first]), [])
    except csv.Error:
        header = first.split(",")
    check_column_count(len(header))
    return clean_header(header)


def scan_csv(source: Source, header: list[str], kind: Kind, *, typed: bool = False) -> pl.LazyFrame:
    """The rows as a lazy table: all text, or (``typed``) the kind's number columns parsed by the
    reader as Float64. Typed, a cell the reader cannot take (``5 ``, ``abc``, a stray byte) makes the
    read raise: the caller then runs the message pass, which says what it is."""
    numbers = {f"c{i}": pl.Float64 for i, h in enumerate(header)
               if typed and (c := kind.by_name.get(normalize(h))) is not None and c.type in ("int", "float")}
    try:
        return pl.scan_csv(
            _readable(source), has_header=True, infer_schema=False, empty_string_is_null=False,
            with_column_names=lambda cols: [f"c{i}" for i in range(len(cols))], schema_overrides=numbers or None,
        )
    except Exception as exc:  # polars raises several types on malformed text
        raise DisclosureRejected.one(Problem.file(f"cannot parse as CSV ({str(exc).strip()[:200]})")) from None


def scan_parquet(source: Source, *, typed: bool = False) -> tuple[list[str], pl.LazyFrame]:
    """The header and the rows: every cell as text, as ``read.py`` makes of a Parquet file in
    memory, or (``typed``) in the file's own types. Polars errors (a file that is not Parquet)
    propagate: the caller reads such a file in memory, whose reader words the problem."""
    lf = pl.scan_parquet(_readable(source))
    schema = lf.collect_schema()
    check_column_count(len(schema))
    problems = column_type_problems(schema)
    if problems:
        raise DisclosureRejected(problems)
    names = [f"c{i}" for i in range(len(schema))]
    lf = lf.rename(dict(zip(schema.names(), names, strict=True)))
    return clean_header(schema.names()), lf if typed else lf.select(pl.all().cast(pl.String))
