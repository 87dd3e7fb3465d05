"""A disclosure file -> its kind and validated records: the one pipeline (pure: bytes or a path in,
frames out), read top to bottom.

1. **Source.** The format (extension, else content) and the empty-file rule; then, by size and
   format, for bytes and paths alike: Parquet, and CSVs above ``large_file_bytes``, are scanned
   lazily (``large.py``); everything else is read in memory (``read.py``: UTF-8, CSV structure,
   JSON, XLSX). Either way: a header and the rows as text, or with numbers typed by the reader.
2. **Kind and header.** The kind from the caller (command, API field, inbox sub-folder), the JSON
   envelope or the header (:func:`resolve_kind`); the header mapped to the kind's columns
   (``header.py``). A header that cannot be mapped (a required column missing) is reported alone;
   otherwise its problems are reported with those of the rows.
3. **Rules** (``rules.py``). Usage files take the fast pass first (``screen.py``: the predicates,
   inside the streaming aggregate); when a rule breaks or anything is in doubt, or for the other
   kinds, the message pass (``validate.py``) reads the text and words every problem.
4. **Aggregate** (usage, ``aggregate.py``) and **records**.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tracker.catalog.accelerators import Catalog, load_catalog
from tracker.filing import large, screen
from tracker.filing.aggregate import aggregate_usage
from tracker.filing.header import Mapped, conform, normalize
from tracker.filing.kinds import INFERENCE_USAGE, KINDS, Kind, get_kind
from tracker.filing.problems import DisclosureRejected, Problem
from tracker.filing.read import check_not_empty, check_utf8, detect_format, read_table, record_width_problems
from tracker.filing.validate import require_records, validate_lazy

LARGE_FILE_BYTES = large.LARGE_FILE_BYTES


@dataclass(frozen=True)
class Parsed:
    kind: Kind
    format: str
    records: pl.DataFrame  # typed records; for usage, aggregated per system and period
    rows_read: int  # non-blank data rows in the file


# --- 1. source -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Lazy:
    """A file scanned lazily: its header, and its rows on demand (columns c0, c1, ...)."""

    format: str
    header: list[str]
    source: large.Source

    def scan(self, kind: Kind, *, typed: bool) -> pl.LazyFrame:
        if self.format == "parquet":
            return large.scan_parquet(self.source, typed=typed)[1]
        return large.scan_csv(self.source, self.header, kind, typed=typed)

    def check_text(self) -> None:
        """The message pass's check of the raw bytes (a Parquet file has no text to check)."""
        if self.format == "csv":
            check_utf8(self.source)

    def structure_problems(self) -> list[Problem]:
        """A streamed CSV the reader could not parse: its records counted as in memory."""
        if self.format != "csv":
            return []
        handle = (io.TextIOWrapper(io.BytesIO(self.source), encoding="utf-8-sig", newline="")
                  if isinstance(self.source, bytes) else self.source.open(encoding="utf-8-sig", newline=""))
        with handle:
            return record_width_problems(handle)


def _lazy_source(source: large.Source, start: bytes, fmt: str, large_file_bytes: int) -> _Lazy | None:
    """Parquet files, and CSVs above ``large_file_bytes``, are scanned; None: read in memory."""
    if fmt == "parquet":
        try:
            header, _ = large.scan_parquet(source)
        except (pl.exceptions.PolarsError, OSError):
            return None  # not Parquet: the in-memory reader words it as for an upload
        return _Lazy(fmt, header, source)
    if fmt == "csv" and large.size_of(source) > large_file_bytes:
        return _Lazy(fmt, large.csv_header(start), source)
    return None


# --- 2. kind and header ----------------------------------------------------------------------------

# A column that only one kind has: a header with it is not ambiguous about what it files.
IDENTIFYING_COLUMN = {"training_runs": "run_id", "inference_usage": "period_start", "clusters": "cluster_id",
                      "system_conditions": "condition"}


def kind_from_header(header: list[str]) -> Kind | None:
    """The one kind whose identifying column the header carries (run_id, period_start, cluster_id or
    condition) and all of whose required columns are present; None when zero or several kinds fit."""
    names = {normalize(h) for h in header}
    fits = [k for k in KINDS.values() if set(k.required) <= names and IDENTIFYING_COLUMN[k.name] in names]
    return fits[0] if len(fits) == 1 else None


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


# --- 3 and 4. rules, aggregate, records --------------------------------------------------------------

def _records(mapped: Mapped, kind: Kind, catalog: Catalog) -> tuple[pl.DataFrame, int]:
    """The message pass, then the aggregate (usage) or the records."""
    typed = validate_lazy(mapped.frame, kind, catalog, earlier=mapped.problems, skip=mapped.unsure)
    if kind is INFERENCE_USAGE:
        aggregated = aggregate_usage(typed).collect(engine="streaming")
        rows = int(aggregated.get_column("rows").sum())
        return require_records(aggregated, rows), rows
    records = typed.collect().sort("row")
    return require_records(records, records.height), records.height


def _fast(frame: pl.LazyFrame, text: Callable[[], pl.LazyFrame], kind: Kind, fmt: str,
          catalog: Catalog, *, read_once: bool = False) -> Parsed | None:
    """The fast pass; where it saw rules broken, the message pass over the suspect rows alone (one
    read of the text), which raises with their problems. None: the message pass reads everything."""
    verdict = screen.screen_usage(frame, catalog, read_once=read_once)
    if isinstance(verdict, screen.Screened):
        return Parsed(kind, fmt, verdict.records, verdict.rows)
    if isinstance(verdict, screen.Suspects):
        suspects = verdict.of(text()).collect(engine="streaming")
        validate_lazy(suspects.lazy(), kind, catalog)  # raises; if not (a blank line), read everything
    return None


def _from_memory(mapped: Mapped, kind: Kind, fmt: str, catalog: Catalog) -> Parsed:
    if kind is INFERENCE_USAGE and not mapped.problems:
        fast = _fast(mapped.frame, lambda: mapped.frame, kind, fmt, catalog)
        if fast is not None:
            return fast
    records, rows = _records(mapped, kind, catalog)
    return Parsed(kind, fmt, records, rows)


def _from_lazy(lazy: _Lazy, kind: Kind, catalog: Catalog) -> Parsed:
    def text() -> Mapped:
        return conform(lazy.header, lazy.scan(kind, typed=False), kind)

    typed = conform(lazy.header, lazy.scan(kind, typed=True), kind)
    if not typed.problems:
        # A read the typed reader finished holds only UTF-8 (it checks text cells, and a stray
        # byte in a number cell does not parse): the suspects need no encoding pass.
        fast = _fast(typed.frame, lambda: text().frame, kind, lazy.format, catalog, read_once=lazy.format == "csv")
        if fast is not None:
            return fast
    lazy.check_text()
    try:
        records, rows = _records(text(), kind, catalog)
    except pl.exceptions.PolarsError as exc:  # a malformed line met mid-stream: worded as in memory
        if lazy.format != "csv":
            raise
        problems = lazy.structure_problems() or [Problem.file(f"cannot parse as CSV ({str(exc).strip()[:200]})")]
        raise DisclosureRejected(problems) from None
    return Parsed(kind, lazy.format, records, rows)


def parse_source(source: large.Source, filename: str, requested: str | None, catalog: Catalog | None = None,
                 *, large_file_bytes: int = LARGE_FILE_BYTES) -> Parsed:
    """The pipeline, for a file's bytes or its path alike: the route depends on size and format.

    The catalog is loaded only once the file is known to be readable: loading it starts polars'
    thread pool (about 30 MiB), which a file rejected at the door (a zip bomb) should not cost."""
    start = large.head(source)
    fmt = detect_format(start, filename)
    check_not_empty(start, large.size_of(source))
    lazy = _lazy_source(source, start, fmt, large_file_bytes)
    if lazy is not None:
        kind = resolve_kind(requested, None, lazy.header)
        if kind is INFERENCE_USAGE:
            try:
                return _from_lazy(lazy, kind, catalog or load_catalog())
            except (pl.exceptions.PolarsError, OSError):
                if fmt != "parquet":
                    raise
                # A column the text cast cannot handle: the in-memory reader words it as for an upload.
    raw = read_table(source if isinstance(source, bytes) else source.read_bytes(), filename)
    kind = resolve_kind(requested, raw.kind_hint, raw.header)
    return _from_memory(conform(raw.header, raw.frame.lazy(), kind), kind, raw.format, catalog or load_catalog())


def parse_disclosure(content: bytes, filename: str, kind: str | None, catalog: Catalog | None = None,
                     *, large_file_bytes: int = LARGE_FILE_BYTES) -> Parsed:
    return parse_source(content, filename, kind, catalog, large_file_bytes=large_file_bytes)


def parse_disclosure_file(path: Path, filename: str, kind: str | None, catalog: Catalog | None = None,
                          *, large_file_bytes: int = LARGE_FILE_BYTES) -> Parsed:
    """As :func:`parse_disclosure`, reading a large file lazily instead of loading it whole."""
    return parse_source(path, filename, kind, catalog, large_file_bytes=large_file_bytes)
