"""Bytes -> a table of text cells, for CSV, JSON, Parquet and XLSX.

Every cell is read as text so that converting it is validation's job and a bad cell becomes a
message, not a crash. Anything a parser throws on malformed input is turned into a
:class:`DisclosureRejected` here, at the boundary: nothing else may escape a reader.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, TextIO

import polars as pl

from tracker.filing.problems import DisclosureRejected, Problem

FORMATS = ("csv", "json", "parquet", "xlsx")
_EXTENSIONS = {".csv": "csv", ".txt": "csv", ".json": "json", ".parquet": "parquet", ".pq": "parquet",
               ".xlsx": "xlsx"}
BOM = codecs.BOM_UTF8
EXPECT_UTF8 = "expected UTF-8 text (in Excel: Save As 'CSV UTF-8')"
# An XLSX is a zip: a small upload can inflate to gigabytes of sheet XML (a zip bomb), which the
# XLSX parser would decompress and parse in full. The members' declared sizes are checked first.
# 100 MiB of XML is far above any real disclosure workbook (a million-cell sheet is ~40 MiB).
MAX_XLSX_UNCOMPRESSED = 100 * 1024 * 1024
# Every kind has at most twenty columns; a spreadsheet may add a few hundred empty trailing ones.
# Above this, the header is refused before anything is done per column (issue 15: 300k unknown
# names held the server for 19 s).
MAX_COLUMNS = 1000


def check_column_count(count: int) -> None:
    if count > MAX_COLUMNS:
        raise DisclosureRejected.one(Problem.header(
            f"the header has {count:,} columns, above the limit of {MAX_COLUMNS:,}; expected the kind's "
            "columns only (at most twenty)"))


@dataclass(frozen=True)
class RawTable:
    """Cells as text; ``header`` holds the column names exactly as the file spells them."""

    format: str
    header: list[str]
    frame: pl.DataFrame  # one String column per header entry, named c0, c1, ...
    kind_hint: str | None = None  # from a JSON envelope


def detect_format(content: bytes, filename: str) -> str:
    """By extension when it is a known one, else by content (magic bytes, first character)."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if content.startswith(b"PAR1"):
        return "parquet"
    if content.startswith(b"PK\x03\x04"):
        return "xlsx"
    if content.removeprefix(BOM).lstrip()[:1] in (b"[", b"{"):
        return "json"
    return "csv"


EMPTY = Problem.file("the file is empty; expected a header row and records")
_CHUNK_BYTES = 4 * 1024 * 1024


def check_not_empty(start: bytes, size: int) -> None:
    """The one empty-file rule: nothing but a byte-order mark and whitespace (``start`` is the file's
    first bytes, ``size`` its length: a longer file holds more than ``start`` shows)."""
    if size <= len(start) and not start.removeprefix(BOM).strip():
        raise DisclosureRejected.one(EMPTY)


def read_table(content: bytes, filename: str) -> RawTable:
    fmt = detect_format(content, filename)
    check_not_empty(content, len(content))
    reader = {"csv": _read_csv, "json": _read_json, "parquet": _read_parquet, "xlsx": _read_xlsx}[fmt]
    return reader(content)


def not_utf8_problem(byte: int, offset: int, line: int) -> Problem:
    return Problem.file(
        f"text is not UTF-8: byte 0x{byte:02x} at byte offset {offset} (line {line}, data row {line - 1} "
        f"when no cell spans lines); {EXPECT_UTF8}"
    )


def decode_utf8(content: bytes) -> str:
    try:
        return content.removeprefix(BOM).decode("utf-8")
    except UnicodeDecodeError:
        check_utf8(content)  # words the first bad byte
        raise


def check_utf8(source: bytes | Path) -> None:
    """The one UTF-8 check: raise naming the first invalid byte, its offset and line, reading 4 MB
    at a time (a file on disk is never loaded whole)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = newlines = 0
    for chunk in _chunks(source):
        held = len(decoder.getstate()[0])  # bytes of an unfinished character from the last chunk
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            # ``exc.object`` is the held bytes and this chunk: the bad byte's offset counts from them.
            bad = offset - held + exc.start
            line = newlines + chunk.count(b"\n", 0, max(exc.start - held, 0)) + 1
            raise DisclosureRejected.one(not_utf8_problem(exc.object[exc.start], bad, line)) from None
        offset += len(chunk)
        newlines += chunk.count(b"\n")
    held = len(decoder.getstate()[0])
    if held:  # the file ends inside a character
        raise DisclosureRejected.one(not_utf8_problem(decoder.getstate()[0][0], offset - held, newlines + 1))


def _chunks(source: bytes | Path) -> Iterator[bytes]:
    if isinstance(source, bytes):
        view = memoryview(source)
        for start in range(0, len(source), _CHUNK_BYTES):
            yield bytes(view[start:start + _CHUNK_BYTES])
        return
    with source.open("rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            yield chunk


def clean_header(header: list[str]) -> list[str]:
    return [h.replace("\ufeff", "").strip() for h in header]


def _table(fmt: str, header: list[str], rows: pl.DataFrame, kind_hint: str | None = None) -> RawTable:
    names = [f"c{i}" for i in range(len(header))]
    frame = rows.rename(dict(zip(rows.columns, names, strict=True))) if rows.width else rows
    return RawTable(fmt, clean_header(header), frame, kind_hint)


# --- CSV ---------------------------------------------------------------------------------------

def _read_csv(content: bytes) -> RawTable:
    text = decode_utf8(content)
    check_column_count(_header_width(text))
    widths = _record_widths(text)
    if not widths:
        raise DisclosureRejected.one(EMPTY)
    header_width = widths[0]
    _reject_other_delimiter(text, header_width)
    problems = width_problems(widths[1:], header_width)
    if problems:
        raise DisclosureRejected(problems)
    try:
        grid = pl.read_csv(
            io.BytesIO(text.encode("utf-8")), has_header=False, infer_schema=False,
            empty_string_is_null=False, truncate_ragged_lines=True, raise_if_empty=False,
        )
    except Exception as exc:  # polars raises several types on malformed text; all mean "cannot parse"
        raise DisclosureRejected.one(Problem.file(f"cannot parse as CSV ({_first_line(exc)})")) from None
    header = [h or "" for h in grid.row(0)]
    return _table("csv", header, grid.slice(1))


def _header_width(text: str) -> int:
    """Fields in the first record (0 if it cannot be parsed: ``_record_widths`` words that)."""
    try:
        return len(next(csv.reader(io.StringIO(text, newline="")), []))
    except csv.Error:
        return 0


def _record_widths(text: str) -> list[int]:
    """Fields per record, parsed strictly: an unclosed quote is reported with its line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        return [len(record) for record in reader]
    except csv.Error as exc:
        raise DisclosureRejected.one(
            Problem.file(f"cannot parse as CSV near line {reader.line_num}: {exc}; expected "
                         "comma-separated fields with double quotes closed on every cell")
        ) from None


def width_problems(widths: Iterable[int], header_width: int) -> list[Problem]:
    """The one rule of a CSV's structure: every record as wide as the header (blank lines aside)."""
    return [
        Problem(row, None, f"has {width} fields; expected {header_width} like the header "
                           "(a missing delimiter or an unclosed quote?)")
        for row, width in enumerate(widths, start=1)
        if width not in (0, header_width)  # 0 = a blank line, skipped like an empty record
    ]


def record_width_problems(text: TextIO) -> list[Problem]:
    """:func:`width_problems` over a CSV streamed record by record (a file too large for memory)."""
    reader = csv.reader(text, strict=True)
    try:
        header_width = len(next(reader, []))
        return width_problems((len(record) for record in reader), header_width)
    except csv.Error as exc:
        return [Problem.file(f"cannot parse as CSV near line {reader.line_num}: {exc}; expected "
                             "comma-separated fields with double quotes closed on every cell")]


def _reject_other_delimiter(text: str, header_width: int) -> None:
    if header_width != 1:
        return
    first_line = text.splitlines()[0] if text else ""
    for delimiter, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "pipes")):
        if delimiter in first_line:
            raise DisclosureRejected.one(
                Problem.header(f"columns seem separated by {label}; expected commas (contract §1)")
            )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


# --- JSON --------------------------------------------------------------------------------------

_ENVELOPE_KEYS = {"schema_version", "kind", "records"}


def _read_json(content: bytes) -> RawTable:
    text = decode_utf8(content)
    try:
        # Numbers are kept as their literal text: validation converts them like CSV cells, and
        # NaN/Infinity (which Python's json accepts) arrive as text to be rejected by name.
        data = json.loads(text, parse_float=str, parse_int=str, parse_constant=str)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = f"{exc.msg} at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else "too deep"
        raise DisclosureRejected.one(Problem.file(f"invalid JSON: {detail}")) from None
    records, kind_hint = _records(data)
    return _json_table(records, kind_hint)


def _records(data: Any) -> tuple[list[Any], str | None]:
    expected = 'expected an array of records or {"schema_version": 1, "kind": "...", "records": [...]}'
    if isinstance(data, list):
        return data, None
    if not isinstance(data, dict) or "records" not in data:
        found = "an object without 'records'" if isinstance(data, dict) else "a single value"
        raise DisclosureRejected.one(Problem.file(f"the JSON document is {found}; {expected}"))
    problems = []
    extra = sorted(set(data) - _ENVELOPE_KEYS)
    if extra:
        problems.append(Problem.file(f"unknown envelope keys {', '.join(map(repr, extra))}; {expected}"))
    if str(data.get("schema_version")) != "1":
        problems.append(Problem.file(f"schema_version {data.get('schema_version')!r} is not supported; "
                                     "expected 1"))
    kind = data.get("kind")
    if kind is not None and not isinstance(kind, str):
        problems.append(Problem.file("envelope 'kind' is not text; expected a kind name"))
    if not isinstance(data["records"], list):
        problems.append(Problem.file(f"'records' is not an array; {expected}"))
    if problems:
        raise DisclosureRejected(problems)
    return data["records"], kind if isinstance(kind, str) else None


def _json_table(records: list[Any], kind_hint: str | None) -> RawTable:
    if not records:
        raise DisclosureRejected.one(Problem.file("the JSON holds no records; expected at least one record"))
    header: dict[str, None] = {}
    problems: list[Problem] = []
    for row, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            found = "an array" if isinstance(record, list) else "a single value"
            problems.append(Problem(row, None, f"is {found}, not an object; expected an object with "
                                               "column names as keys"))
            continue
        header.update(dict.fromkeys(record))
        check_column_count(len(header))
    names = list(header)
    columns: dict[str, list[str | None]] = {n: [] for n in names}
    for row, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            continue
        for name in names:
            value = record.get(name)
            if isinstance(value, dict | list):
                problems.append(Problem(row, name.strip().lower(), "is a nested JSON value; expected text "
                                                                   "or a number"))
                value = None
            columns[name].append(_json_text(value))
    if problems:
        raise DisclosureRejected(problems)
    frame = pl.DataFrame({f"c{i}": columns[n] for i, n in enumerate(names)},
                         schema={f"c{i}": pl.String for i in range(len(names))})
    return RawTable("json", [n.strip() for n in names], frame, kind_hint)


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- Parquet and XLSX --------------------------------------------------------------------------

def _read_parquet(content: bytes) -> RawTable:
    try:
        width = len(pl.read_parquet_schema(io.BytesIO(content)))
    except Exception as exc:  # pyarrow/polars raise many types for a corrupt file
        raise DisclosureRejected.one(Problem.file(f"cannot read as Parquet ({_first_line(exc)})")) from None
    check_column_count(width)
    try:
        frame = pl.read_parquet(io.BytesIO(content))
    except Exception as exc:  # pyarrow/polars raise many types for a corrupt file
        raise DisclosureRejected.one(Problem.file(f"cannot read as Parquet ({_first_line(exc)})")) from None
    return _stringify("parquet", frame)


def _check_xlsx_size(content: bytes) -> None:
    """Refuse a workbook whose members inflate above MAX_XLSX_UNCOMPRESSED, before parsing it.

    The declared sizes are the attacker's to choose, so the members are inflated here, a chunk at a
    time into nothing, counting the bytes that actually come out and stopping once past the cap.
    zipfile stops reading a member at its declared size; each member's is raised to the budget left
    (plus one byte), so an under-declared member is read to its real end or to just past the cap
    (its checksum, which would fail there, is left to the workbook reader).
    """
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            declared = sum(info.file_size for info in archive.infolist())
            if declared > MAX_XLSX_UNCOMPRESSED:
                raise DisclosureRejected.one(Problem.file(
                    f"the workbook decompresses to {declared / 2**20:,.0f} MiB, above the limit of "
                    f"{MAX_XLSX_UNCOMPRESSED / 2**20:,.0f} MiB (a compressed 'zip bomb'?); expected an "
                    "ordinary workbook: split the data or file it as CSV"))
            inflated = 0
            for info in archive.infolist():
                info.file_size = MAX_XLSX_UNCOMPRESSED - inflated + 1
                info.CRC = None  # type: ignore[assignment]  # this pass counts; the reader checks CRCs
                with archive.open(info) as member:
                    while chunk := member.read(_INFLATE_CHUNK):
                        inflated += len(chunk)
                        if inflated > MAX_XLSX_UNCOMPRESSED:
                            _too_inflated()
    except DisclosureRejected:
        raise
    except Exception as exc:  # not a readable zip, a checksum that fails, or zlib/bz2/lzma's own errors
        raise DisclosureRejected.one(Problem.file(f"cannot read as XLSX ({_first_line(exc)})")) from None


_INFLATE_CHUNK = 1024 * 1024


def _too_inflated() -> None:
    raise DisclosureRejected.one(Problem.file(
        f"the workbook decompresses to more than {MAX_XLSX_UNCOMPRESSED / 2**20:,.0f} MiB, above the limit "
        f"of {MAX_XLSX_UNCOMPRESSED / 2**20:,.0f} MiB, though its zip headers declare less (a compressed "
        "'zip bomb'?); expected an ordinary workbook: split the data or file it as CSV"))


def _read_xlsx(content: bytes) -> RawTable:
    # Fixed (issue 8): a zip bomb was decompressed and parsed whole (300 MiB of sheet XML took
    # 5 s and +320 MiB of memory); the declared sizes are now checked before parsing. Fixed
    # (issue 15): declared sizes can lie (900 KiB declaring little inflated to 257 MiB and grew
    # the server by 540 MB), so the bytes actually inflated are counted.
    _check_xlsx_size(content)
    try:
        grid = pl.read_excel(
            io.BytesIO(content), sheet_id=1, has_header=False, infer_schema_length=0,
            drop_empty_rows=False, drop_empty_cols=False, raise_if_empty=False,
        )
    except Exception as exc:  # fastexcel raises its own types for a corrupt workbook
        raise DisclosureRejected.one(Problem.file(f"cannot read as XLSX ({_first_line(exc)})")) from None
    if not isinstance(grid, pl.DataFrame) or grid.height == 0:
        raise DisclosureRejected.one(Problem.file("the first sheet is empty; expected a header row"))
    check_column_count(grid.width)
    grid = grid.select(pl.all().cast(pl.String))
    header = [h or "" for h in grid.row(0)]
    return _table("xlsx", header, grid.slice(1))


def column_type_problems(schema: pl.Schema) -> list[Problem]:
    """Columns whose values have no text form (lists, structs, bytes)."""
    return [Problem.header(f"column {name!r} holds {dtype}; expected text, numbers or dates")
            for name, dtype in schema.items() if dtype.is_nested() or dtype == pl.Binary]


def _stringify(fmt: str, frame: pl.DataFrame) -> RawTable:
    problems = column_type_problems(frame.schema)
    if problems:
        raise DisclosureRejected(problems)
    return _table(fmt, list(frame.columns), frame.select(pl.all().cast(pl.String)))
