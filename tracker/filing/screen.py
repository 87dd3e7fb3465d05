"""The fast pass over usage files: their aggregate, or where the rules break.

Every usage file (in memory or streamed, CSV or Parquet) goes through here first. The rules are
``rules.py``'s: their predicates only, no message is built. Per row, the number cells (typed by
the reader where it can) and the segment are checked and the row is summed into the partial
aggregate of its raw key cells (system, version, period, accelerator as written), chunk by chunk,
and its identity (system, version, period, segment) is hashed to 64 bits. The few thousand
distinct raw keys are then prepared, parsed and checked by the key cells' rules once each, and
the groups merged by the keys they mean. Sorting the hashes finds repeated identities. A CSV is
parsed once, its chunks aggregated as they come; a Parquet file, cheap to read again, is read by
the streaming engine in separate queries (:func:`screen_usage`).

It never words a problem. When rules break, it names the suspects (:class:`Suspects`: the first
rows breaking a rule of their own cells, the keys breaking one) and the message pass
(``validate.py``) words them from the text of those rows alone. When anything is in doubt (a cell
the reader cannot parse, two identities sharing a hash, a repeat or a collision, two spellings of
a key becoming one such as ``' a'`` and ``'a'``, a segment NFC may change), it returns None and the
message pass reads every row. As the rules are the same objects, a rule added to ``rules.py`` is
checked by both passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

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
CHUNK_ROWS = 500_000  # rows per chunk of the read: held with their aggregate, then dropped
_NUMBERS: tuple[Column, ...] = tuple(c for c in _KIND.columns if c.type in ("int", "float"))
_KEY_COLUMNS: tuple[Column, ...] = tuple(_KIND.by_name[n] for n in USAGE_KEY)
_IDENTITY = "__identity"
_BREAKS = "__breaks_a_rule"
_DOUBT = "__in_doubt"
_PADDED = "__segment_may_be_padded"
# Odd multipliers make the hash of (a, b) differ from that of (b, a).
_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


@dataclass(frozen=True)
class Screened:
    records: pl.DataFrame  # exactly what the message pass's aggregate_usage returns
    rows: int  # data rows read


@dataclass(frozen=True)
class Suspects:
    """Where the fast pass saw rules broken, with no repeat or doubt elsewhere: every row the
    message pass could report is one of ``rows`` (the first that break a rule of their own cells)
    or has one of ``keys`` (raw key cells, as text, that break a key rule)."""

    rows: list[int]
    keys: pl.DataFrame

    def of(self, text: pl.LazyFrame) -> pl.LazyFrame:
        """The suspect rows of the file's text (columns named as the kind's), numbered as in it."""
        numbered = text.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
        suspect = pl.col(ROW).is_in(pl.Series(self.rows, dtype=pl.Int64).implode())
        if self.keys.height:
            key = pl.concat_str([pl.col(n).cast(pl.String).fill_null("") for n in USAGE_KEY], separator="\x00")
            bad = self.keys.select(pl.concat_str(USAGE_KEY, separator="\x00")).to_series()
            suspect = suspect | key.is_in(bad.implode())
        return numbered.filter(suspect)


# --- per row ------------------------------------------------------------------------------------

def _raw_key(name: str, dtype: pl.DataType) -> pl.Expr:
    # The cell as written (text; a Date column is already canonical and cheaper to group on), ""
    # for a missing cell: the message pass makes both null.
    return pl.col(name) if dtype == pl.Date else pl.col(name).cast(pl.String).fill_null("")


def _number_cell(name: str, dtype: pl.DataType) -> pl.Expr:
    """The cell as the number rules read it: a number the reader typed, or the text stripped."""
    if dtype == pl.Float64:
        return pl.col(name)
    if dtype.is_integer() or dtype == pl.Null:
        return pl.col(name).cast(pl.Float64)
    return stripped_or_null(pl.col(name))


def identity_hash(schema: pl.Schema) -> pl.Expr:
    """The row's identity (system, version, period, segment) as 64 bits: raw key cells, segment
    stripped. Two Date periods are hashed as one 64-bit number (injective)."""
    parts = [_raw_key(n, schema[n]) for n in ("system", "version")]
    if schema["period_start"] == pl.Date and schema["period_end"] == pl.Date:
        parts.append(pl.col("period_start").cast(pl.Int64) * (1 << 32) + pl.col("period_end").cast(pl.Int64))
    else:
        parts += [_raw_key(n, schema[n]) for n in ("period_start", "period_end")]
    parts.append(pl.col("segment").fill_null(""))
    combined: pl.Expr | None = None
    for i, part in enumerate(parts):
        term = part.hash(seed=i + 1) * pl.lit(_MULTIPLIERS[i], dtype=pl.UInt64)
        combined = term if combined is None else combined ^ term
    assert combined is not None
    return combined.alias(_IDENTITY)


def segment_may_be_padded() -> pl.Expr:
    """True where the segment's first or last byte is not printable ASCII (``!`` to DEL), so that
    stripping could change it: every whitespace character (ASCII or not) starts and ends with such a
    byte. Two byte reads, no new strings."""
    raw = pl.col("segment").cast(pl.String).cast(pl.Binary)
    first, last = raw.bin.get(0, null_on_oob=True), raw.bin.get(-1, null_on_oob=True)
    return (raw.bin.size() > 0) & ~(first.is_between(0x21, 0x7F) & last.is_between(0x21, 0x7F)).fill_null(True)


def _segment_cell(*, strip: bool) -> pl.Expr:
    """The segment as the rules read it. Unstripped, it is that only where no segment may be padded
    (:func:`segment_may_be_padded`): stripping every cell is most of a Parquet read's cost."""
    segment = pl.col("segment").cast(pl.String)
    return (stripped_or_null(segment) if strip else pl.when(segment.str.len_bytes() > 0).then(segment)).alias("segment")


def _own_rules(*, segment: bool = True) -> list[Rule]:
    """The rules of a row's own cells: its numbers, its segment (unless ``segment`` is false), and
    the row rule (a usage figure)."""
    columns = (*_NUMBERS, _KIND.by_name["segment"]) if segment else _NUMBERS
    return [r for c in columns for r in cell_rules(c)] + usage_row_rules()


def _segment_doubt() -> pl.Expr:
    # The message pass compares text in NFC (tracker/text.py); a segment is only hashed here, so one
    # holding a character NFC may change is a doubt.
    return pl.col("segment").str.contains(may_change_or_hide()).fill_null(False).alias(_DOUBT)


def row_columns(schema: pl.Schema, *, strip_segment: bool = True) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """The cells as the rules read them, then what the fast pass keeps of a row: raw keys, number
    values, its identity hash and whether it breaks a rule of its own cells (numbers, segment, no
    usage figure). Rules of the key cells are checked once per distinct key (:func:`settle`)."""
    cells = [_number_cell(c.name, schema[c.name]).alias(c.name) for c in _NUMBERS]
    cells.append(_segment_cell(strip=strip_segment))
    kept = [*_row_values(schema), identity_hash(schema), any_broken(_own_rules()).alias(_BREAKS), _segment_doubt()]
    return cells, kept


def _row_values(schema: pl.Schema) -> list[pl.Expr]:
    """What is summed of a row: its row number, its raw key cells and its number values."""
    return [pl.col(ROW), *[_raw_key(n, schema[n]).alias(n) for n in USAGE_KEY],
            *[pl.col(c.name).cast(pl.Float64, strict=False) for c in _NUMBERS]]


def partial_columns() -> list[pl.Expr]:
    """Per group of rows with the same raw key: the aggregate's parts (counts, sums, first row)."""
    return partial_usage({name: pl.col(name) for name in (ROW, *(c.name for c in _NUMBERS))})


def _merged(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Partial rows with the same key combined: ``first_row`` is the least, the rest add up."""
    return frame.group_by(key).agg(
        [pl.col(c).min() if c == "first_row" else pl.col(c).sum() for c in frame.columns if c not in key])


# --- the keys, once each -------------------------------------------------------------------------

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


def aggregate_schema() -> pl.Schema:
    """The schema of the aggregate (the message pass's, from the typed records' declared schema)."""
    return aggregate_usage(pl.LazyFrame(schema=typed_schema(_KIND))).collect_schema()


def settle(raw: pl.DataFrame, catalog: Catalog, broken_rows: list[int], repeats: bool
           ) -> Screened | Suspects | None:
    """Partial aggregates per raw key -> the file's aggregate; the suspects when rules break; None
    when a repeat may hide among them (the message pass then reads every row)."""
    canonical = canonical_keys(raw, catalog)
    if repeats or not _distinct_spellings_stay_distinct(raw, canonical):
        return None
    bad_keys = canonical.get_column(_BREAKS)
    if broken_rows or bad_keys.any():
        return Suspects(broken_rows, raw.filter(bad_keys).select([pl.col(n).cast(pl.String) for n in USAGE_KEY]))
    schema = aggregate_schema()
    keyed = raw.drop(USAGE_KEY).hstack(canonical.drop(_BREAKS))
    records = _merged(keyed, list(USAGE_KEY)).select(finish_usage()).sort("first_row").cast(schema)
    return Screened(records.select(schema.names()), int(raw.get_column("rows").sum()))


def _chunks(source: pl.LazyFrame, cells: list[pl.Expr], kept: list[pl.Expr]) -> Iterator[pl.DataFrame]:
    """The rows as the fast pass keeps them, a chunk at a time, from one streamed read."""
    rows = source.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64), *cells).select(kept)
    yield from rows.collect_batches(chunk_size=CHUNK_ROWS, maintain_order=True, engine="streaming")


def screen_usage(source: pl.LazyFrame, catalog: Catalog, *, limit: int = MAX_PROBLEMS, rereadable: bool = False
                 ) -> Screened | Suspects | None:
    """The fast pass over ``source`` (the kind's columns, numbers typed or text): the aggregate; or
    the suspect rows when rules break (the first ``limit + 1`` rows breaking a rule of their own,
    and the keys breaking one); or None when anything is in doubt. Any error the reader raises (a
    cell that is not a number, a malformed line, bytes that are not UTF-8) is a doubt: the message
    pass reads the text and says what it is.

    A source whose columns are cheap to read again (``rereadable``: Parquet) is read by the
    streaming engine, in queries apart (:func:`_screen_twice`): at 10M rows 1.1-1.5 s, where read
    by chunks of 500,000 it took 2.1-2.4 s against a 0.8 s bare aggregate. Any other (CSV, whose
    parsing is most of the cost) is read once, aggregated chunk by chunk while each row's identity
    hash is kept (8 bytes a row)."""
    try:
        if rereadable:
            return _screen_twice(source, catalog, limit)
        schema = source.collect_schema()
        cells, kept = row_columns(schema)
        partials: list[pl.DataFrame] = []
        identities: list[pl.Series] = []
        broken: list[int] = []
        aggregates = partial_columns()
        for chunk in _chunks(source, cells, kept):
            if chunk.get_column(_DOUBT).any():
                return None
            if len(broken) <= limit and chunk.get_column(_BREAKS).any():
                broken += chunk.filter(pl.col(_BREAKS)).get_column(ROW).head(limit + 1 - len(broken)).to_list()
            # The streaming engine aggregates a chunk with less work than the in-memory one.
            partials.append(chunk.lazy().group_by(list(USAGE_KEY)).agg(aggregates).collect(engine="streaming"))
            identities.append(chunk.get_column(_IDENTITY))
    except pl.exceptions.PolarsError:
        return None
    if not partials:
        return None
    every = pl.concat(identities, rechunk=True)
    identities.clear()  # the chunks' copies go before the sort makes another
    repeats = not repeated_hashes(every).is_empty()
    del every
    return settle(_merged(pl.concat(partials), list(USAGE_KEY)), catalog, broken, repeats)


def _screen_twice(source: pl.LazyFrame, catalog: Catalog, limit: int, *, strip_segment: bool = False
                  ) -> Screened | Suspects | None:
    """The rereadable route, read three times: the partial aggregate per raw key, with whether any
    of its rows breaks a rule of its numbers or has a segment that may be padded (then all again,
    stripped); the distinct segments, whose rules and doubt are checked once each (a file has a few
    regions and shards, repeated on every key); then the identity hashes alone. The rows breaking
    a rule are looked up only when some do."""
    schema = source.collect_schema()
    cells = row_columns(schema, strip_segment=strip_segment)[0]
    rows = source.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64), *cells)
    flags = [any_broken(_own_rules(segment=False)).alias(_BREAKS), segment_may_be_padded().alias(_PADDED)]
    raw = rows.select(*_row_values(schema), *flags).group_by(list(USAGE_KEY)) \
        .agg(*partial_columns(), pl.col(_BREAKS).any(), pl.col(_PADDED).any()).collect(engine="streaming")
    segments = source.select(cells[-1]).unique().collect(engine="streaming")
    if raw.is_empty() or segments.select(_segment_doubt().any()).item():
        return None
    if not strip_segment and raw.get_column(_PADDED).any():
        return _screen_twice(source, catalog, limit, strip_segment=True)
    broken: list[int] = []
    if raw.get_column(_BREAKS).any() or segments.select(any_broken(cell_rules(_KIND.by_name["segment"])).any()).item():
        broken = rows.filter(any_broken(_own_rules())).select(ROW).head(limit + 1).collect().get_column(ROW).to_list()
    hashes = source.with_columns(cells[-1]).select(identity_hash(schema)).collect(engine="streaming")
    repeats = not repeated_hashes(hashes.get_column(_IDENTITY)).is_empty()
    return settle(raw.drop(_BREAKS, _PADDED), catalog, broken, repeats)
