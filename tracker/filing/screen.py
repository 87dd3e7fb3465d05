"""A screen for large usage files: their aggregate from typed reads, or None ("look closer").

The exact path (``validate.py``) reads every cell as text so that a bad one can be quoted, runs
each rule as an expression that words its message, and reads the file four times (accelerators,
problems, duplicate identities, aggregate). For a clean 10-million-row export nearly all of that
is spent on messages nobody will read.

The screen reads the numbers typed (the CSV reader parses them, Parquet stores them). It flags
every row that breaks a rule of its own (a number out of bounds, no usage figure, an overlong
segment or one NFC may change), aggregates per group of rows with the same raw key cells (system,
version, period, accelerator), and hashes each row's identity (system, version, period, segment) to 64 bits, the
segment stripped (Parquet: only if a segment starts or ends with a byte that is not printable
ASCII, as every whitespace character does); sorting the hashes, one range of values per thread,
finds repeats. The few thousand distinct keys then go through the exact validator itself, so
they are stripped, dated, resolved in the catalog and checked by the very same expressions, and
the groups are merged by the keys it returns.

The screen never words a problem. When a rule fails, a cell does not parse, two identities share a
hash, or two spellings of a key would become one (``' a'`` and ``'a'``), it returns None and the
caller runs the exact path, which finds and words every problem as before. So it only has to be
conservative: every file the exact path rejects must make it return None. A usage rule added to
``validate.py`` must be mirrored here (``tests/filing/test_filing_screen.py`` files every known
kind of bad usage row through both paths).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import polars as pl

from tracker.catalog.accelerators import Catalog
from tracker.filing.aggregate import USAGE_KEY, aggregate_usage, finish_usage, partial_usage
from tracker.filing.kinds import INFERENCE_USAGE, Column
from tracker.filing.problems import DisclosureRejected
from tracker.filing.validate import ROW, stripped_or_null, validate_lazy
from tracker.text import may_change_or_hide

_KIND = INFERENCE_USAGE
CHUNK_ROWS = 500_000  # rows per chunk of a single read: held with their aggregate, then dropped
_NUMBERS: tuple[Column, ...] = tuple(c for c in _KIND.columns if c.type in ("int", "float"))
_IDENTITY = "__identity"
_MAX_PARTS = 8  # ranges of identity hashes sorted side by side
_BREAKS = "__breaks_a_rule"
_PADDED = "__segment_may_be_padded"
_FIGURES = ("input_tokens", "output_tokens", "accelerator_hours")  # the "no usage figure" rule
# Odd multipliers make the hash of (a, b) differ from that of (b, a).
_MULTIPLIERS = (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)


@dataclass(frozen=True)
class Screened:
    records: pl.DataFrame  # exactly what the exact path's aggregate_usage returns
    rows: int  # data rows read


# --- per row ------------------------------------------------------------------------------------

def _raw_text(name: str) -> pl.Expr:
    # The cell as the exact path first sees it (text; Parquet numbers and dates cast the same way),
    # with "" for a missing cell: both become null there.
    return pl.col(name).cast(pl.String).fill_null("")


def _raw_key(name: str, dtype: pl.DataType) -> pl.Expr:
    # A Date column is already canonical: grouping on it is cheaper than on its text.
    return pl.col(name) if dtype == pl.Date else _raw_text(name)


def _number(column: Column, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr | None]:
    """The value the exact path parses from the cell, and for text cells whether parsing failed.

    Float64 (the CSV reader's, or Parquet's) and integers are the value the exact path gets from
    their text (shortest round-trip text; integers convert exactly or round the same way). Other
    types go the exact path's way: text, stripped, parsed.
    """
    cell = pl.col(column.name)
    if dtype == pl.Float64:
        return cell, None
    if dtype.is_integer() or dtype == pl.Null:
        return cell.cast(pl.Float64), None
    text = stripped_or_null(cell)
    value = text.cast(pl.Float64, strict=False)
    return value, text.is_not_null() & value.is_null()


def identity_hash(schema: pl.Schema, *, strip_segment: bool = True) -> pl.Expr:
    """The row's identity (system, version, period, segment) as 64 bits: raw key cells, stripped segment.

    ``strip_segment=False`` hashes the segment as it is, which is the same identity when no segment
    can have surrounding whitespace (:func:`segment_may_be_padded` false on every row): stripping
    is most of the cost. Two Date periods are hashed as one 64-bit number (injective).
    """
    segment = pl.col("segment").cast(pl.String)
    parts = [_raw_key(n, schema[n]) for n in ("system", "version")]
    if schema["period_start"] == pl.Date and schema["period_end"] == pl.Date:
        parts.append(pl.col("period_start").cast(pl.Int64) * (1 << 32) + pl.col("period_end").cast(pl.Int64))
    else:
        parts += [_raw_key(n, schema[n]) for n in ("period_start", "period_end")]
    parts.append((segment.str.strip_chars() if strip_segment else segment).fill_null(""))
    combined: pl.Expr | None = None
    for i, part in enumerate(parts):
        term = part.hash(seed=i + 1) * pl.lit(_MULTIPLIERS[i], dtype=pl.UInt64)
        combined = term if combined is None else combined ^ term
    assert combined is not None
    return combined.alias(_IDENTITY)


def segment_may_be_padded() -> pl.Expr:
    """True where the segment's first or last byte is not printable ASCII (``!`` to DEL), so that
    stripping could change it: every whitespace character (ASCII or not) starts and ends with such a
    byte. Empty and missing segments are what they are stripped. Two byte reads, no new strings."""
    raw = pl.col("segment").cast(pl.String).cast(pl.Binary)
    first, last = raw.bin.get(0, null_on_oob=True), raw.bin.get(-1, null_on_oob=True)
    return ~(first.is_between(0x21, 0x7F) & last.is_between(0x21, 0x7F)).fill_null(True)


def _upper_bound(column: Column) -> float | None:
    bounds = [b for b in (column.maximum, column.plausible_maximum) if b is not None]
    return min(bounds) if bounds else None


def _breaks_rules(column: Column, value: pl.Expr, whole: bool) -> pl.Expr:
    """True where a number breaks the exact path's rules for its column (kinds.py), null if absent.
    ``whole``: the file stores integers, which are finite and whole (fewer tests per row)."""
    holds = pl.lit(True) if whole else value.is_finite()  # NaN and infinities
    if column.minimum is not None and column.minimum >= 0:
        zero_allowed = not (column.exclusive_minimum or column.minimum >= 1)
        holds = holds & (value >= 0 if zero_allowed else value > 0)
    bound = _upper_bound(column)
    if bound is not None:
        holds = holds & (value <= bound)
    if column.type == "int" and not whole:
        holds = holds & (value.floor() == value)
    return ~holds


def row_columns(schema: pl.Schema) -> list[pl.Expr]:
    """What the screen keeps of each row: raw keys, typed numbers, and whether the row breaks a rule
    of its own (a number out of bounds or unparsable, no usage figure, an overlong segment).
    Rules on the key cells are checked once per distinct key."""
    values: dict[str, pl.Expr] = {}
    breaks: list[pl.Expr] = []
    for c in _NUMBERS:
        value, failed = _number(c, schema[c.name])
        values[c.name] = value
        breaks.append(_breaks_rules(c, value, whole=schema[c.name].is_integer()))
        if failed is not None:
            breaks.append(failed)
    breaks.append(pl.coalesce([values[n] for n in _FIGURES]).is_null())
    segment = _KIND.by_name["segment"]
    if segment.max_length is not None:
        # Bytes >= characters >= characters once stripped: within the limit here, within it there.
        breaks.append(pl.col("segment").cast(pl.String).str.len_bytes() > segment.max_length)
    # The exact path refuses control and format characters in text and compares text in NFC
    # (tracker/text.py). The other key cells go through the exact validator below; a segment is
    # only hashed, so one holding a character NFC may change or the rule refuses is a doubt.
    breaks.append(pl.col("segment").cast(pl.String).str.contains(may_change_or_hide()))
    return [
        pl.col(ROW), *[_raw_key(n, schema[n]).alias(n) for n in USAGE_KEY],
        *[value.alias(name) for name, value in values.items()],
        pl.any_horizontal(breaks).fill_null(False).alias(_BREAKS),
    ]


# --- per group of rows ----------------------------------------------------------------------------

def partial_columns() -> list[pl.Expr]:
    """Per group of rows with the same raw key: the aggregate's parts (counts, sums, first row)."""
    return partial_usage({name: pl.col(name) for name in (ROW, *(c.name for c in _NUMBERS))})


def _merged(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Partial rows with the same key combined: ``first_row`` is the least, the rest add up."""
    return frame.group_by(key).agg(
        [pl.col(c).min() if c == "first_row" else pl.col(c).sum() for c in frame.columns if c not in key])


# --- the keys, through the exact validator -----------------------------------------------------------

def canonical_keys(raw: pl.DataFrame, catalog: Catalog) -> pl.DataFrame | None:
    """The distinct raw keys as the exact path types them (row for row), or None if any is invalid.

    Each key becomes a one-row disclosure with a figure and a distinct segment, so only the key's
    own cells can fail: empty or overlong text, dates that are not ISO days, period_end before
    period_start, accelerators unknown to the catalog.
    """
    columns = {n: pl.lit(None, dtype=pl.String) for n in _KIND.names}
    columns |= {n: pl.col(n).cast(pl.String) for n in USAGE_KEY}
    columns |= {"input_tokens": pl.lit("0"), "segment": pl.int_range(pl.len()).cast(pl.String)}
    text = raw.lazy().select([columns[n].alias(n) for n in _KIND.names])
    try:
        typed = validate_lazy(text, _KIND, catalog).collect()
    except DisclosureRejected:
        return None
    if typed.height != raw.height:
        return None
    return typed.sort(ROW).select(USAGE_KEY)


def _distinct_spellings_stay_distinct(raw: pl.DataFrame, canonical: pl.DataFrame) -> bool:
    """Identities are hashed on raw cells: that finds every repeat only if no two spellings of a
    system, version or period (' a' and 'a', '2025-01-01' and '2025-01-01 00:00') mean the same."""
    for name in _KIND.identity:
        if name == "segment":
            continue
        if raw.get_column(name).n_unique() != canonical.get_column(name).n_unique():
            return False
    return True


def _has_repeats(identities: pl.Series, *, by_range: bool = False) -> bool:
    """Whether two identities share a hash: equal neighbours once sorted.

    ``by_range``: equal hashes fall in the same range of values, so the ranges are sorted apart,
    one thread each. On few cores that beats one multithreaded sort (whose first partitioning
    steps run on one thread), for a copy of the hashes more at once: for Parquet, whose screen
    holds nothing else by then (the CSV screen holds its chunks' hashes and copies them once).
    """
    if identities.len() < 2:
        return False
    parts = max(1, min(pl.thread_pool_size(), _MAX_PARTS)) if by_range else 1
    if parts == 1:
        ordered = identities.sort()
        return bool((ordered.slice(1) == ordered.slice(0, ordered.len() - 1)).any())
    step = 2**64 // parts
    bounds = [(i * step if i else None, (i + 1) * step if i < parts - 1 else None) for i in range(parts)]
    with ThreadPoolExecutor(max_workers=parts) as pool:
        return any(pool.map(lambda b: _sorted_repeats(identities, *b), bounds))


def _sorted_repeats(identities: pl.Series, low: int | None, high: int | None) -> bool:
    """Repeats among the hashes in [low, high) (unbounded where None), sorted on this thread."""
    part = identities
    if low is not None:
        part = part.filter(part >= low)
    if high is not None:
        part = part.filter(part < high)
    if part.len() < 2:
        return False
    ordered = part.sort(multithreaded=False)
    return bool((ordered.slice(1) == ordered.slice(0, ordered.len() - 1)).any())


def settle(raw: pl.DataFrame, catalog: Catalog, exact_schema: pl.Schema) -> Screened | None:
    """Partial aggregates per raw key -> the file's aggregate, or None if a key breaks a rule."""
    canonical = canonical_keys(raw.select(USAGE_KEY), catalog)
    if canonical is None or not _distinct_spellings_stay_distinct(raw, canonical):
        return None
    keyed = raw.drop(USAGE_KEY).hstack(canonical)
    if keyed.filter(pl.col("accelerator").is_null() & (pl.col("accelerator_hours__n") > 0)).height:
        return None  # accelerator-hours without the accelerator
    records = _merged(keyed, list(USAGE_KEY)).select(finish_usage()).sort("first_row").cast(exact_schema)
    return Screened(records.select(exact_schema.names()), int(raw.get_column("rows").sum()))


def exact_schema(catalog: Catalog) -> pl.Schema:
    """The schema of the exact path's aggregate, taken from the exact path itself."""
    empty = pl.LazyFrame(schema={n: pl.String for n in _KIND.names})
    return aggregate_usage(validate_lazy(empty, _KIND, catalog)).collect_schema()


def screen_usage(source: pl.LazyFrame, catalog: Catalog, *, single_read: bool = False) -> Screened | None:
    """Screen ``source`` (the kind's columns, numbers typed or not); None whenever in doubt.

    ``single_read`` parses the file once and aggregates it chunk by chunk, keeping every row's
    identity hash (8 bytes a row): for CSV, where parsing is most of the cost. Otherwise two
    streaming reads, the aggregate first and, only if its rules hold, the identity hashes: for
    Parquet, whose columns are cheap to read again and whose chunks would cost memory to hold.
    Any error the reader raises (a cell that is not a number, a malformed line, bytes that are
    not UTF-8) is a doubt too: the exact path reads the file again and says what it is.
    """
    try:
        schema = source.collect_schema()
        rows = source.with_row_index(ROW, offset=1)
        if single_read:
            return _screen_in_chunks(rows.select(*row_columns(schema), identity_hash(schema)), catalog)
        raw = (
            rows.select(row_columns(schema)).group_by(list(USAGE_KEY))
            .agg(*partial_columns(), pl.col(_BREAKS).any()).collect(engine="streaming")
        )
        if raw.is_empty() or raw.get_column(_BREAKS).any():
            return None
        screened = settle(raw.drop(_BREAKS), catalog, exact_schema(catalog))
        if screened is None:
            return None
        identities = _identities(source, schema)
    except pl.exceptions.PolarsError:
        return None
    return None if _has_repeats(identities, by_range=True) else screened


def _identities(source: pl.LazyFrame, schema: pl.Schema) -> pl.Series:
    """Every row's identity hash; the segments are stripped (a second read) only if one may need it."""
    hashed = source.select(identity_hash(schema, strip_segment=False), segment_may_be_padded().alias(_PADDED)) \
        .collect(engine="streaming")
    if hashed.get_column(_PADDED).any():
        hashed = source.select(identity_hash(schema)).collect(engine="streaming")
    return hashed.get_column(_IDENTITY)


def _screen_in_chunks(rows: pl.LazyFrame, catalog: Catalog) -> Screened | None:
    if not hasattr(rows, "collect_batches"):  # an older polars: the exact path reads the file
        return None
    partials: list[pl.DataFrame] = []
    identities: list[pl.Series] = []
    aggregates = partial_columns()
    for chunk in rows.collect_batches(chunk_size=CHUNK_ROWS, maintain_order=True, engine="streaming"):
        if chunk.get_column(_BREAKS).any():
            return None
        # The streaming engine aggregates a chunk with less work than the in-memory one.
        partials.append(chunk.lazy().group_by(list(USAGE_KEY)).agg(aggregates).collect(engine="streaming"))
        identities.append(chunk.get_column(_IDENTITY))
    if not partials:
        return None
    screened = settle(_merged(pl.concat(partials), list(USAGE_KEY)), catalog, exact_schema(catalog))
    if screened is None:
        return None
    every = pl.concat(identities, rechunk=True)
    identities.clear()  # the chunks' copies go before the sort makes another
    return None if _has_repeats(every) else screened
