"""A disclosure file -> its kind and validated records (pure: bytes or a file in, frames out).

Composes reading, header matching and validation, and settles the kind: from the caller (command,
API field, inbox sub-folder) or the JSON envelope; when neither says, or they disagree, the file
is rejected with a message that says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tracker.catalog.accelerators import Catalog, load_catalog
from tracker.filing import large
from tracker.filing.aggregate import aggregate_usage
from tracker.filing.header import conform
from tracker.filing.kinds import INFERENCE_USAGE, KINDS, Kind, get_kind
from tracker.filing.problems import DisclosureRejected, Problem
from tracker.filing.read import detect_format, read_table
from tracker.filing.validate import validate_lazy


@dataclass(frozen=True)
class Parsed:
    kind: Kind
    format: str
    records: pl.DataFrame  # typed records; for usage, aggregated per system and period
    rows_read: int  # non-blank data rows in the file


def resolve_kind(requested: str | None, envelope: str | None) -> Kind:
    expected = f"expected one of {', '.join(KINDS)}"
    for label, name in (("requested", requested), ("JSON envelope", envelope)):
        if name and get_kind(name) is None:
            raise DisclosureRejected.one(Problem.file(f"unknown kind {name!r} ({label}); {expected}"))
    if requested and envelope and get_kind(requested) != get_kind(envelope):
        raise DisclosureRejected.one(Problem.file(
            f"the JSON envelope says kind {envelope!r} but the file was filed as {requested!r}; "
            "expected the same kind in both"))
    kind = get_kind(requested or "") or get_kind(envelope or "")
    if kind is None:
        raise DisclosureRejected.one(Problem.file(
            "the kind of the file is unclear; expected it from --kind, the API field 'kind', the inbox "
            f"sub-folder or a JSON envelope's 'kind' ({', '.join(KINDS)})"))
    return kind


def _finish(typed: pl.LazyFrame, kind: Kind) -> tuple[pl.DataFrame, int]:
    if kind is INFERENCE_USAGE:
        aggregated = aggregate_usage(typed).collect(engine="streaming")
        return aggregated, int(aggregated.get_column("rows").sum())
    records = typed.collect().sort("row")
    return records, records.height


def parse_disclosure(content: bytes, filename: str, kind: str | None,
                     catalog: Catalog | None = None) -> Parsed:
    raw = read_table(content, filename)
    spec = resolve_kind(kind, raw.kind_hint)
    frame = conform(raw, spec)
    typed = validate_lazy(frame.lazy(), spec, catalog or load_catalog())
    records, rows = _finish(typed, spec)
    return Parsed(spec, raw.format, records, rows)


def parse_disclosure_file(path: Path, filename: str, kind: str | None, catalog: Catalog | None = None,
                          *, large_file_bytes: int = large.LARGE_FILE_BYTES) -> Parsed:
    """Like :func:`parse_disclosure`, streaming large usage CSVs instead of loading them."""
    spec = get_kind(kind or "")
    fmt = detect_format(b"", filename)
    if spec is not INFERENCE_USAGE or fmt != "csv" or path.stat().st_size <= large_file_bytes:
        return parse_disclosure(path.read_bytes(), filename, kind, catalog)
    try:
        typed = validate_lazy(large.scan_csv(path, spec), spec, catalog or load_catalog())
        records, rows = _finish(typed, spec)
    except pl.exceptions.PolarsError as exc:  # a malformed line met mid-stream
        raise DisclosureRejected.one(Problem.file(f"cannot parse as CSV ({str(exc).strip()[:200]})")) from None
    return Parsed(spec, "csv", records, rows)
