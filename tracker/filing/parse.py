"""A disclosure file -> its kind and validated records (pure: bytes or a file in, frames out).

Composes reading, header matching and validation, and settles the kind: from the caller (command,
API field, inbox sub-folder) or the JSON envelope; when neither says, or they disagree, the file
is rejected with a message that says so.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tracker.catalog.accelerators import Catalog, load_catalog
from tracker.filing import large, screen
from tracker.filing.aggregate import aggregate_usage
from tracker.filing.header import conform, normalize
from tracker.filing.kinds import INFERENCE_USAGE, KINDS, Kind, get_kind
from tracker.filing.problems import DisclosureRejected, Problem
from tracker.filing.read import detect_format, read_table
from tracker.filing.validate import require_records, validate_lazy


@dataclass(frozen=True)
class Parsed:
    kind: Kind
    format: str
    records: pl.DataFrame  # typed records; for usage, aggregated per system and period
    rows_read: int  # non-blank data rows in the file


def kind_from_header(header: list[str]) -> Kind | None:
    """The one kind whose identifying column the header carries (run_id, period_start or cluster_id)
    and all of whose required columns are present; None when zero or several kinds fit."""
    names = {normalize(h) for h in header}
    fits = [k for k in KINDS.values() if set(k.required) <= names and IDENTIFYING_COLUMN[k.name] in names]
    return fits[0] if len(fits) == 1 else None


# A column that only one kind has: a header with it is not ambiguous about what it files.
IDENTIFYING_COLUMN = {"training_runs": "run_id", "inference_usage": "period_start", "clusters": "cluster_id",
                      "system_conditions": "condition"}


def resolve_kind(requested: str | None, envelope: str | None, header: list[str] | None = None) -> Kind:
    expected = f"expected one of {', '.join(KINDS)}"
    for label, name in (("requested", requested), ("JSON envelope", envelope)):
        if name and get_kind(name) is None:
            raise DisclosureRejected.one(Problem.file(f"unknown kind {name!r} ({label}); {expected}"))
    if requested and envelope and get_kind(requested) != get_kind(envelope):
        raise DisclosureRejected.one(Problem.file(
            f"the JSON envelope says kind {envelope!r} but the file was filed as {requested!r}; "
            "expected the same kind in both"))
    kind = get_kind(requested or "") or get_kind(envelope or "") or kind_from_header(header or [])
    if kind is None:
        raise DisclosureRejected.one(Problem.file(
            "the kind of the file is unclear; expected it from --kind, the API field 'kind', the inbox "
            f"sub-folder, a JSON envelope's 'kind' ({', '.join(KINDS)}), or a header with exactly one "
            "kind's required columns"))
    return kind


def _finish(typed: pl.LazyFrame, kind: Kind) -> tuple[pl.DataFrame, int]:
    if kind is INFERENCE_USAGE:
        aggregated = aggregate_usage(typed).collect(engine="streaming")
        rows = int(aggregated.get_column("rows").sum())
        return require_records(aggregated, rows), rows
    records = typed.collect().sort("row")
    return require_records(records, records.height), records.height


def parse_disclosure(content: bytes, filename: str, kind: str | None,
                     catalog: Catalog | None = None) -> Parsed:
    raw = read_table(content, filename)
    spec = resolve_kind(kind, raw.kind_hint, raw.header)
    frame = conform(raw, spec)
    typed = validate_lazy(frame.lazy(), spec, catalog or load_catalog())
    records, rows = _finish(typed, spec)
    return Parsed(spec, raw.format, records, rows)


def parse_disclosure_file(path: Path, filename: str, kind: str | None, catalog: Catalog | None = None,
                          *, large_file_bytes: int = large.LARGE_FILE_BYTES) -> Parsed:
    """Like :func:`parse_disclosure`, reading usage CSVs above ``large_file_bytes`` and usage Parquet
    files lazily instead of loading them; the same records or the same problems either way."""
    spec = get_kind(kind or "")
    fmt = detect_format(b"", filename)
    if spec is None and fmt == "csv":
        spec = kind_from_header(_csv_header(path))
        kind = spec.name if spec else kind
    if fmt == "parquet" and (spec is INFERENCE_USAGE or (not kind and _parquet_kind(path) is INFERENCE_USAGE)):
        return _usage_parquet(path, filename, kind, catalog or load_catalog())
    if spec is not INFERENCE_USAGE or fmt != "csv" or path.stat().st_size <= large_file_bytes:
        return parse_disclosure(path.read_bytes(), filename, kind, catalog)
    return _large_usage_csv(path, catalog or load_catalog())


def _screened(scan: Callable[[], pl.LazyFrame], fmt: str, catalog: Catalog) -> Parsed | None:
    """The screen's aggregate, or None when the exact path must read the file (screen.py)."""
    try:
        screened = screen.screen_usage(scan(), catalog, single_read=fmt == "csv")
    except DisclosureRejected:  # header problems: the exact path finds and words them again
        return None
    return Parsed(INFERENCE_USAGE, fmt, screened.records, screened.rows) if screened else None


def _large_usage_csv(path: Path, catalog: Catalog) -> Parsed:
    screened = _screened(lambda: large.scan_csv(path, INFERENCE_USAGE, typed=True), "csv", catalog)
    if screened is not None:
        return screened
    try:
        typed = validate_lazy(large.scan_csv(path, INFERENCE_USAGE), INFERENCE_USAGE, catalog)
        records, rows = _finish(typed, INFERENCE_USAGE)
    except pl.exceptions.PolarsError as exc:  # a malformed line met mid-stream
        raise DisclosureRejected.one(Problem.file(f"cannot parse as CSV ({str(exc).strip()[:200]})")) from None
    return Parsed(INFERENCE_USAGE, "csv", records, rows)


def _usage_parquet(path: Path, filename: str, kind: str | None, catalog: Catalog) -> Parsed:
    try:
        screened = _screened(lambda: large.scan_parquet(path, INFERENCE_USAGE, typed=True), "parquet", catalog)
        if screened is not None:
            return screened
        typed = validate_lazy(large.scan_parquet(path, INFERENCE_USAGE), INFERENCE_USAGE, catalog)
        records, rows = _finish(typed, INFERENCE_USAGE)
    except (pl.exceptions.PolarsError, OSError):
        # Not a Parquet file, or a column the text cast cannot handle: the in-memory reader says
        # what is wrong exactly as for an upload.
        return parse_disclosure(path.read_bytes(), filename, kind, catalog)
    return Parsed(INFERENCE_USAGE, "parquet", records, rows)


def _parquet_kind(path: Path) -> Kind | None:
    """The kind a Parquet file's column names settle (as for a CSV header), None if unreadable."""
    try:
        names = list(pl.read_parquet_schema(path))
    except (pl.exceptions.PolarsError, OSError):  # not Parquet: the in-memory reader reports it
        return None
    return kind_from_header(names)


def _csv_header(path: Path) -> list[str]:
    """The first CSV record of a file, without reading the rest (for kind detection)."""
    with path.open("rb") as handle:
        first = handle.readline(65_536).decode("utf-8-sig", errors="replace")
    return next(csv.reader([first]), [])
