"""The fast pass over usage files: their aggregate, or where the rules break.

Every usage file (in memory or streamed, CSV or Parquet) goes through here first. The rules are
``rules.py``'s: their predicates only, no message is built. One streamed read checks each row's
number cells (typed by the reader where it can) and sums the row into the partial aggregate of its
raw key cells (system, version, period, accelerator as written). What an aggregate cannot hold,
the :class:`_RowFacts` (every row's identity hash over the cells as written, 8 bytes a row; the
distinct segments, up to :data:`SEGMENTS_KEPT`; the first rows breaking a rule), is gathered by a
:class:`_Tap` during that read when the source is read once (a streamed CSV, whose parsing is most
of the cost), and by queries of its own otherwise (Parquet, a frame in memory:
:func:`_read_again`). Then:

- the few thousand distinct raw keys are prepared, parsed and checked by the key cells' rules once
  each, and the groups merged by the keys they mean;
- the distinct segments are prepared and checked by the segment's rules once each (too many to
  keep: row by row, in one more read of the segment column);
- sorting the hashes finds repeated identities.

It never words a problem. When rules break, it names the suspects (:class:`Suspects`: the first
rows breaking a rule of their own numbers, the keys and segments breaking one) and the message
pass (``validate.py``) words them from the text of those rows alone. When anything is in doubt (a
cell the reader cannot parse, two identities sharing a hash, a repeat or a collision, two
spellings of a key or a segment that the message pass makes one, such as ``' a'`` and ``'a'``, or
a read not seen row for row), it returns None and the message pass reads every row. As the rules
are the same objects, a rule added to ``rules.py`` is checked by both passes.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import polars as pl

from tracker.catalog.accelerators import Catalog
from tracker.filing.aggregate import USAGE_KEY, aggregate_usage, finish_usage, partial_usage
from tracker.filing.kinds import INFERENCE_USAGE, Column
from tracker.filing.problems import MAX_PROBLEMS
from tracker.filing.rules import (
    Rule,
    accelerator_rule,
    any_broken,
    cell_rules,
    unknown_accelerator_messages,
    usage_key_rules,
    usage_row_rules,
    v,
)
from tracker.filing.validate import ROW, parse_values, prepared_cell, repeated_hashes, stripped_or_null, typed_schema
from tracker.text import may_change_or_hide

_KIND = INFERENCE_USAGE
_NUMBERS: tuple[Column, ...] = tuple(c for c in _KIND.columns if c.type in ("int", "float"))
_KEY_COLUMNS: tuple[Column, ...] = tuple(_KIND.by_name[n] for n in USAGE_KEY)
_SEGMENT = _KIND.by_name["segment"]
SEGMENTS_KEPT = 100_000  # distinct segments checked once each; past this, row by row
_IDENTITY = "__identity"
_BREAKS = "__breaks_a_rule"
# Odd multipliers make the hash of (a, b) differ from that of (b, a).
_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


@dataclass(frozen=True)
class Screened:
    records: pl.DataFrame  # exactly what the message pass's aggregate_usage returns
    rows: int  # data rows read


@dataclass(frozen=True)
class Suspects:
    """Where the fast pass saw rules broken, with no repeat or doubt elsewhere: every row the
    message pass could report is one of ``rows`` (the first that break a rule of their own
    numbers, and of their segment when segments are checked row by row), has one of ``keys`` (raw
    key cells, as text, that break a key rule) or one of ``segments`` (raw segments, as text, that
    break a segment rule)."""

    rows: list[int]
    keys: pl.DataFrame
    segments: list[str] = field(default_factory=list)

    def of(self, text: pl.LazyFrame) -> pl.LazyFrame:
        """The suspect rows of the file's text (columns named as the kind's), numbered as in it."""
        numbered = text.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
        suspect = pl.col(ROW).is_in(pl.Series(self.rows, dtype=pl.Int64).implode())
        if self.keys.height:
            key = pl.concat_str([_raw_text(n) for n in USAGE_KEY], separator="\x00")
            bad = self.keys.select(pl.concat_str(USAGE_KEY, separator="\x00")).to_series()
            suspect = suspect | key.is_in(bad.implode())
        if self.segments:
            suspect = suspect | _raw_text("segment").is_in(pl.Series(self.segments, dtype=pl.String).implode())
        return numbered.filter(suspect)


# --- per row ------------------------------------------------------------------------------------

def _raw_text(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.String).fill_null("")


def _raw_key(name: str, dtype: pl.DataType) -> pl.Expr:
    # The cell as written (text; a Date column is already canonical and cheaper to group on), ""
    # for a missing cell: the message pass makes both null.
    return pl.col(name) if dtype == pl.Date else _raw_text(name)


def _read_as_number(dtype: pl.DataType) -> bool:
    """Whether the reader typed the cells as numbers the rules can take (else they are read as text)."""
    return dtype == pl.Float64 or dtype.is_integer()


def _number_cell(name: str, dtype: pl.DataType) -> pl.Expr:
    """The cell as the number rules read it: a number the reader typed, or the text stripped."""
    if dtype == pl.Float64:
        return pl.col(name)
    if _read_as_number(dtype) or dtype == pl.Null:
        return pl.col(name).cast(pl.Float64)
    return stripped_or_null(pl.col(name))


def identity_hash(schema: pl.Schema) -> pl.Expr:
    """The row's identity (system, version, period, segment) as 64 bits, over the cells as written.
    Two Date periods are hashed as one 64-bit number (injective)."""
    parts = [_raw_key(n, schema[n]) for n in ("system", "version")]
    if schema["period_start"] == pl.Date and schema["period_end"] == pl.Date:
        parts.append(pl.col("period_start").cast(pl.Int64) * (1 << 32) + pl.col("period_end").cast(pl.Int64))
    else:
        parts += [_raw_key(n, schema[n]) for n in ("period_start", "period_end")]
    parts.append(_raw_text("segment"))
    combined: pl.Expr | None = None
    for i, part in enumerate(parts):
        term = part.hash(seed=i + 1) * pl.lit(_MULTIPLIERS[i], dtype=pl.UInt64)
        combined = term if combined is None else combined ^ term
    assert combined is not None
    return combined.alias(_IDENTITY)


def _own_rules(schema: pl.Schema) -> list[Rule]:
    """The rules of a row's own cells: its numbers (those their type as read can break) and the row
    rule (a usage figure). Its segment is checked once per distinct segment instead."""
    numbers = [r for c in _NUMBERS
               for r in cell_rules(c, schema[c.name] if _read_as_number(schema[c.name]) else None)]
    return numbers + usage_row_rules()


class _Segments:
    """The distinct segments (as written) of a read, batch by batch, up to ``SEGMENTS_KEPT``: a file
    has a few regions, hours or shards, repeated on every key. Past that (a segment per row, say)
    it stops keeping them (``distinct`` is None) and the segments are checked row by row instead
    (:func:`_segments_row_by_row`), so memory stays bounded whatever the file holds."""

    def __init__(self) -> None:
        self._kept: list[pl.Series] | None = []
        self._count = 0

    def add(self, distinct: pl.Series) -> None:
        """Add a batch's distinct segments (``batch.unique()``)."""
        if self._kept is None:
            return
        self._count += distinct.len()
        if self._count > SEGMENTS_KEPT:
            self._kept = None
        else:
            self._kept.append(distinct)

    @property
    def overflowed(self) -> bool:
        return self._kept is None

    @property
    def distinct(self) -> pl.Series | None:
        if self._kept is None:
            return None
        return pl.concat(self._kept).unique() if self._kept else pl.Series("segment", [], pl.String)


@dataclass(frozen=True)
class _RowFacts:
    """What the aggregate cannot hold of the rows: every row's identity hash, the distinct segments
    (as written; None when there are too many to keep) and the first rows breaking a rule of their
    own numbers."""

    hashes: pl.Series
    segments: pl.Series | None
    broken: list[int]


class _Tap:
    """Collects the :class:`_RowFacts` batch by batch while the aggregate reads the rows, for a
    source read once (a streamed CSV: parsing is most of its cost). Polars calls it from its worker
    threads, in no set order; batches are appended under a lock and ordered afterwards. It returns
    the batch's rule flags, which the aggregate reads: that keeps the query from pruning it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.hashes: list[pl.Series] = []
        self.segments = _Segments()
        self.broken: list[pl.Series] = []
        self._lock = threading.Lock()

    def __call__(self, batch: pl.Series) -> pl.Series:
        rows = batch.struct.unnest()
        breaks = rows.get_column(_BREAKS)
        broken = rows.get_column(ROW).filter(breaks).head(self.limit + 1) if breaks.any() else None
        segments = None if self.segments.overflowed else rows.get_column("segment").unique()
        with self._lock:
            self.hashes.append(rows.get_column(_IDENTITY))
            if segments is not None:
                self.segments.add(segments)
            if broken is not None:
                self.broken.append(broken)
        return breaks

    def flags(self, schema: pl.Schema) -> pl.Expr:
        row = pl.struct(pl.col(ROW), identity_hash(schema), _raw_text("segment").alias("segment"),
                        any_broken(_own_rules(schema)).alias(_BREAKS))
        return row.map_batches(self, return_dtype=pl.Boolean, is_elementwise=True).alias(_BREAKS)

    def facts(self) -> _RowFacts:
        hashes = pl.concat(self.hashes, rechunk=False) if self.hashes else pl.Series(_IDENTITY, [], pl.UInt64)
        broken = pl.concat(self.broken).sort().head(self.limit + 1).to_list() if self.broken else []
        return _RowFacts(hashes, self.segments.distinct, broken)


def _read_again(source: pl.LazyFrame, rows: pl.LazyFrame, schema: pl.Schema, any_broken_row: bool, limit: int
                ) -> _RowFacts:
    """The :class:`_RowFacts` in queries of their own, for a source cheap to read again (Parquet, by
    row groups and only the columns asked; a frame in memory): at 10M rows, a Parquet file's
    identity hashes take 0.1 s alone, where a tap slows its aggregate by 0.2-0.3 s and doubles
    its memory. The rows breaking a rule are looked up only when some do."""
    hashes = source.select(identity_hash(schema)).collect(engine="streaming").to_series()
    segments = _Segments()
    for batch in source.select(_raw_text("segment").alias("segment")).collect_batches(engine="streaming"):
        segments.add(batch.to_series().unique())
        if segments.overflowed:
            break
    broken: list[int] = []
    if any_broken_row:
        found = rows.filter(any_broken(_own_rules(schema))).select(ROW).head(limit + 1).collect(engine="streaming")
        broken = found.get_column(ROW).to_list()
    return _RowFacts(hashes, segments.distinct, broken)


def _row_values(schema: pl.Schema) -> list[pl.Expr]:
    """What is summed of a row: its row number, its raw key cells and its number values."""
    return [pl.col(ROW), *[_raw_key(n, schema[n]).alias(n) for n in USAGE_KEY],
            *[pl.col(c.name).cast(pl.Float64, strict=False) for c in _NUMBERS]]


def _partial_columns() -> list[pl.Expr]:
    """Per group of rows with the same raw key: the aggregate's parts (counts, sums, first row)."""
    return partial_usage({name: pl.col(name) for name in (ROW, *(c.name for c in _NUMBERS))})


# --- the keys and the segments, once each ----------------------------------------------------------

def canonical_keys(raw: pl.DataFrame, catalog: Catalog) -> pl.DataFrame:
    """The distinct raw keys as the message pass parses them (row for row), and whether each breaks
    a rule of the key cells (empty or overlong text, a date that is not an ISO day or out of range,
    period_end before period_start, an unknown accelerator, accelerator-hours without one)."""
    text = raw.lazy().select(
        *[prepared_cell(c) for c in _KEY_COLUMNS],
        pl.when(pl.col("accelerator_hours__n") > 0).then(pl.lit("1")).alias("accelerator_hours"),
    ).collect()
    names = text.get_column("accelerator").drop_nulls().unique().to_list()
    parsed = parse_values(text.lazy(), list(_KEY_COLUMNS), {n: catalog.try_resolve(n) for n in names})
    rules = [r for c in _KEY_COLUMNS for r in cell_rules(c)]
    rules += [accelerator_rule(unknown_accelerator_messages(names, catalog)), *usage_key_rules()]
    return parsed.select(any_broken(rules).alias(_BREAKS), *[v(n).alias(n) for n in USAGE_KEY]).collect()


def _distinct_spellings_stay_distinct(raw: pl.DataFrame, canonical: pl.DataFrame) -> bool:
    """Identities are hashed on raw cells: that finds every repeat only if no two spellings of a
    system, version or period (' a' and 'a', '2025-01-01' and '2025-01-01 00:00') mean the same."""
    return all(raw.get_column(n).n_unique() == canonical.get_column(n).n_unique()
               for n in _KIND.identity if n != "segment")


def _segment_verdict(distinct: pl.Series) -> list[str] | None:
    """The distinct raw segments that break a segment rule (as the message pass prepares them:
    stripped, in NFC); None when two of them become one (' a' and 'a'), which hashing raw cells
    would miss as a repeat."""
    parsed = parse_values(distinct.to_frame("segment").lazy().select(
        pl.col("segment").alias("__raw"), prepared_cell(_SEGMENT)), [_SEGMENT], {}).collect()
    if parsed.get_column("segment__v").fill_null("").n_unique() != distinct.len():
        return None
    return parsed.filter(any_broken(cell_rules(_SEGMENT))).get_column("__raw").to_list()


def _segments_row_by_row(rows: pl.LazyFrame, limit: int) -> list[int] | None:
    """Too many distinct segments to check once each: the first rows whose segment breaks a rule;
    None when a segment may be padded or changed by NFC (then a repeat could hide behind two
    spellings; the message pass decides). NFC is not applied per row, it is slow: a segment without
    a character it may change (:func:`tracker.text.may_change_or_hide`) is its own NFC."""
    raw = _raw_text("segment")
    stripped = stripped_or_null(raw)
    checked = rows.select(pl.col(ROW), raw.alias("__raw"), stripped.alias("segment"))
    doubt = checked.select(
        (pl.col("__raw").str.contains(may_change_or_hide()) | (pl.col("segment").fill_null("") != pl.col("__raw")))
        .any()).collect(engine="streaming").item()
    if doubt:
        return None
    found = checked.filter(any_broken(cell_rules(_SEGMENT))).select(ROW).head(limit + 1).collect(engine="streaming")
    return found.get_column(ROW).to_list()


def aggregate_schema() -> pl.Schema:
    """The schema of the aggregate (the message pass's, from the typed records' declared schema)."""
    return aggregate_usage(pl.LazyFrame(schema=typed_schema(_KIND))).collect_schema()


def _merged(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Partial rows with the same key combined: ``first_row`` is the least, the rest add up."""
    return frame.group_by(key).agg(
        [pl.col(c).min() if c == "first_row" else pl.col(c).sum() for c in frame.columns if c not in key])


def settle(raw: pl.DataFrame, catalog: Catalog, facts: _RowFacts, segment_rows: list[int] | None = None
           ) -> Screened | Suspects | None:
    """Partial aggregates per raw key and the row facts -> the file's aggregate; the suspects when
    rules break; None when anything is in doubt (the message pass then reads every row).
    ``segment_rows``: when the segments were too many to keep, the first rows breaking a segment rule."""
    if raw.is_empty() or facts.hashes.len() != raw.get_column("rows").sum():
        return None  # a read not seen row for row: nothing can be vouched for
    canonical = canonical_keys(raw, catalog)
    bad_segments = [] if facts.segments is None else _segment_verdict(facts.segments)
    if (bad_segments is None or not _distinct_spellings_stay_distinct(raw, canonical)
            or not repeated_hashes(facts.hashes).is_empty()):
        return None
    bad_keys = canonical.get_column(_BREAKS)
    rows = sorted({*facts.broken, *(segment_rows or [])})
    if rows or bad_segments or bad_keys.any():
        keys = raw.filter(bad_keys).select([pl.col(n).cast(pl.String) for n in USAGE_KEY])
        return Suspects(rows, keys, bad_segments)
    schema = aggregate_schema()
    keyed = raw.drop(USAGE_KEY, _BREAKS).hstack(canonical.drop(_BREAKS))
    records = _merged(keyed, list(USAGE_KEY)).select(finish_usage()).sort("first_row").cast(schema)
    return Screened(records.select(schema.names()), int(raw.get_column("rows").sum()))


def screen_usage(source: pl.LazyFrame, catalog: Catalog, *, limit: int = MAX_PROBLEMS, read_once: bool = False
                 ) -> Screened | Suspects | None:
    """The fast pass over ``source`` (the kind's columns, numbers typed or text): the aggregate; or
    the suspect rows when rules break (the first ``limit + 1`` rows breaking a rule of their own
    numbers or segment, and the keys and segments breaking one); or None when anything is in
    doubt. Any error the reader raises (a cell that is not a number, a malformed line, bytes that
    are not UTF-8) is a doubt: the message pass reads the text and says what it is.

    A source to be read once (``read_once``: a streamed CSV) is tapped while it is aggregated;
    any other is read again for what the aggregate cannot hold (:func:`_read_again`)."""
    tap = _Tap(limit) if read_once else None
    try:
        schema = source.collect_schema()
        rows = source.with_row_index(ROW, offset=1).with_columns(
            pl.col(ROW).cast(pl.Int64), *[_number_cell(c.name, schema[c.name]).alias(c.name) for c in _NUMBERS])
        flags = tap.flags(schema) if tap else any_broken(_own_rules(schema)).alias(_BREAKS)
        raw = rows.select(*_row_values(schema), flags).group_by(list(USAGE_KEY)) \
            .agg(*_partial_columns(), pl.col(_BREAKS).any()).collect(engine="streaming")
        facts = tap.facts() if tap else _read_again(source, rows, schema, bool(raw.get_column(_BREAKS).any()), limit)
        segment_rows: list[int] | None = None
        if facts.segments is None and not raw.is_empty():
            segment_rows = _segments_row_by_row(rows, limit)
            if segment_rows is None:
                return None
    except pl.exceptions.PolarsError:
        return None
    return settle(raw, catalog, facts, segment_rows)
