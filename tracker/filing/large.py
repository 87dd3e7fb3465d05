"""The streaming path for large CSV files (inference usage exports of tens of millions of rows).

The file is never loaded whole: UTF-8 is checked in chunks, the header is read on its own, and
``scan_csv`` feeds the same validation expressions as the in-memory path, run by polars' streaming
engine; only the first problem rows and the per-period aggregate are ever materialised.
Peak memory therefore depends on the number of distinct (system, period, segment) keys, not on
the file size.
"""

from __future__ import annotations

import codecs
from pathlib import Path

import polars as pl

from tracker.filing.header import apply_mapping, column_mapping, normalize
from tracker.filing.kinds import Kind
from tracker.filing.problems import DisclosureRejected, Problem
from tracker.filing.read import BOM, EXPECT_UTF8, not_utf8_problem

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


def scan_csv(path: Path, kind: Kind) -> pl.LazyFrame:
    """The file as a lazy table with the kind's column names (all text)."""
    with path.open("rb") as handle:
        start = handle.read(_CHUNK_BYTES)
    if not start.removeprefix(BOM).strip() and path.stat().st_size <= len(start):
        raise DisclosureRejected.one(Problem.file("the file is empty; expected a header row and records"))
    check_utf8(path)
    try:
        header_frame = pl.read_csv(path, has_header=False, n_rows=1, infer_schema=False)
        header = [h or "" for h in header_frame.row(0)]
        lf = pl.scan_csv(
            path, has_header=True, infer_schema=False, empty_string_is_null=False,
            with_column_names=lambda cols: [f"c{i}" for i in range(len(cols))],
        )
    except Exception as exc:  # polars raises several types on malformed text
        raise DisclosureRejected.one(Problem.file(f"cannot parse as CSV ({str(exc).strip()[:200]})")) from None
    sources = [f"c{i}" for i in range(len(header))]
    unnamed = [i for i, h in enumerate(header) if not normalize(h)]
    blank = set(unnamed) if not unnamed else _blank_columns(lf, sources, unnamed)
    mapping = column_mapping(header, kind, blank)
    return apply_mapping(lf, sources, mapping, kind)


def _blank_columns(lf: pl.LazyFrame, sources: list[str], indexes: list[int]) -> set[int]:
    counts = lf.select(
        [(pl.col(sources[i]).str.strip_chars().str.len_bytes() > 0).sum().alias(str(i)) for i in indexes]
    ).collect(engine="streaming")
    return {i for i in indexes if counts.get_column(str(i)).item() == 0}
