"""The screen of large usage files (tracker/filing/screen.py) against the exact path.

The screen may only do one of two things: return exactly what the exact path returns, or step
aside (None) so that the exact path runs. These tests file the same files both ways, by the
route a large file takes (``parse_disclosure_file``) with the screen on and with it forced aside,
and compare the outcomes: the same records (fractional sums to the last bits, which the
streaming engine's summation order already varies) or the same problems, word for word.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tracker.catalog.accelerators import load_catalog
from tracker.filing import large, screen
from tracker.filing.header import conform
from tracker.filing.kinds import INFERENCE_USAGE
from tracker.filing.parse import parse_disclosure, parse_disclosure_file
from tracker.filing.problems import DisclosureRejected
from tracker.filing.validate import repeated_hashes

KIND = "inference_usage"
HEADER = ["system", "version", "period_start", "period_end", "input_tokens", "output_tokens", "requests",
          "mean_context_tokens", "accelerator", "accelerator_hours", "utilization", "segment"]
Outcome = tuple[Any, ...]


def clean_rows(n: int = 40) -> list[list[str]]:
    """Four systems, three months, several accelerators (aliases too), gaps in optional figures."""
    rows = []
    for i in range(n):
        month = i % 3 + 1
        rows.append([
            f"sys-{i % 4}", "2" if i % 4 == 0 else "", f"2025-0{month}-01", f"2025-0{month}-28",
            str(1000 + 7 * i), str(100 + i) if i % 5 else "", str(10 + i % 3), str(500 + i) if i % 2 else "",
            ["H100", "NVIDIA A100 SXM4 80GB", "", "a100"][i % 4], f"{0.5 + 0.25 * i}" if i % 4 != 2 else "",
            f"0.{i % 9 + 1}" if i % 3 else "", f"seg-{i}",
        ])
    return rows


def write_csv(path: Path, rows: list[list[str]], header: list[str] = HEADER) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def as_format(path: Path, fmt: str) -> Path:
    """The CSV at ``path``, or (``fmt`` parquet) the same cells as text in a Parquet file beside it."""
    if fmt != "parquet":
        return path
    parquet = path.with_suffix(".parquet")
    pl.read_csv(path, infer_schema=False, empty_string_is_null=False).write_parquet(parquet)
    return parquet


def outcome(parse: Callable[[], Any]) -> Outcome:
    try:
        parsed = parse()
    except DisclosureRejected as exc:
        return ("rejected", [str(p) for p in exc.problems])
    return ("accepted", parsed.kind.name, parsed.format, parsed.rows_read, parsed.records)


def screened_and_exact(path: Path) -> tuple[Outcome, Outcome]:
    """The large-file route with the screen, and the same route with the screen stepping aside."""
    def route() -> Any:
        return parse_disclosure_file(path, path.name, KIND, large_file_bytes=0)

    with_screen = outcome(route)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(screen, "screen_usage", lambda *_a, **_k: None)
        exact = outcome(route)
    return with_screen, exact


def assert_same(got: Outcome, expected: Outcome) -> None:
    assert got[:-1] == expected[:-1] if got[0] == "accepted" else got == expected
    if got[0] == "accepted" and expected[0] == "accepted":
        assert_frame_equal(got[-1], expected[-1], rel_tol=1e-12, abs_tol=0.0)


def screen_of(path: Path) -> screen.Screened | None:
    """What the fast pass vouches for on the typed read (None: the message pass decides, over the
    suspect rows or the whole file; so it does on header problems)."""
    try:
        if path.suffix == ".csv":
            header = large.csv_header(large.head(path))
            lf = large.scan_csv(path, header, INFERENCE_USAGE, typed=True)
        else:
            header, lf = large.scan_parquet(path, typed=True)
        mapped = conform(header, lf, INFERENCE_USAGE)
    except DisclosureRejected:
        return None
    read_once = path.suffix == ".csv"  # as the pipeline reads a streamed CSV: tapped while aggregated
    verdict = None if mapped.problems else screen.screen_usage(mapped.frame, load_catalog(), read_once=read_once)
    return verdict if isinstance(verdict, screen.Screened) else None  # suspects: the message pass decides


# --- files the screen vouches for ---------------------------------------------------------------

def messy_but_valid() -> list[list[str]]:
    rows = clean_rows()
    rows[0][0], rows[0][4], rows[0][8] = " sys-0 ", " 1e3", " H100 "  # every spelling of sys-0 alike
    for row in rows:
        if row[0] == "sys-0":
            row[0] = " sys-0 "
    rows[1][4], rows[1][5] = "+5", ".5"
    rows[2][4], rows[2][6], rows[2][10], rows[2][11] = "5.", "-0", "1.0", ""
    rows[3][4], rows[3][10], rows[3][11] = "1E3", "1e-3", "região/东京"
    rows[6][4] = rows[6][5] = "0"
    rows[8][8] = "h100"
    return rows


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("variant", ["clean", "messy"])
def test_the_screen_vouches_for_valid_files_with_the_exact_aggregate(tmp_path: Path, fmt: str, variant: str) -> None:
    rows = clean_rows() if variant == "clean" else messy_but_valid()
    path = write_csv(tmp_path / "usage.csv", rows)
    if fmt == "parquet":
        frame = pl.read_csv(path, infer_schema=False)
        path = tmp_path / "usage.parquet"
        frame.write_parquet(path)
    vouched = screen_of(path)
    assert vouched is not None and vouched.rows == 40
    with_screen, exact = screened_and_exact(path)
    assert with_screen[0] == "accepted"
    assert_same(with_screen, exact)
    assert_frame_equal(vouched.records, exact[-1], rel_tol=1e-12, abs_tol=0.0)


def typed_frame() -> pl.DataFrame:
    n = 40
    return pl.DataFrame({
        "system": [f"sys-{i % 4}" for i in range(n)], "version": ["2" if i % 4 == 0 else None for i in range(n)],
        "period_start": [dt.date(2025, i % 3 + 1, 1) for i in range(n)],
        "period_end": [dt.date(2025, i % 3 + 1, 28) for i in range(n)],
        "input_tokens": [1000 + 7 * i for i in range(n)],
        "output_tokens": [None if i % 5 == 0 else 100 + i for i in range(n)],
        "requests": [10 + i % 3 for i in range(n)],
        "mean_context_tokens": [None if i % 2 == 0 else 500.5 + i for i in range(n)],
        "accelerator": [["H100", "NVIDIA A100 SXM4 80GB", None, "a100"][i % 4] for i in range(n)],
        "accelerator_hours": [None if i % 4 == 2 else 0.5 + 0.25 * i for i in range(n)],
        "utilization": [None if i % 3 == 0 else (i % 9 + 1) / 10 for i in range(n)],
        "segment": [f"seg-{i}" for i in range(n)],
    })


def _set(frame: pl.DataFrame, column: str, row: int, value: object) -> pl.DataFrame:
    values = frame.get_column(column).to_list()
    values[row] = value
    return frame.with_columns(pl.Series(column, values, dtype=frame.schema[column]))


PARQUET_VARIANTS: dict[str, Callable[[pl.DataFrame], pl.DataFrame]] = {
    "typed": lambda f: f,
    "float32": lambda f: f.with_columns(pl.col("utilization", "accelerator_hours").cast(pl.Float32)),
    "fractional tokens": lambda f: f.with_columns(pl.col("input_tokens").cast(pl.Float64) * 1.1),
    "huge integers": lambda f: f.with_columns(pl.col("input_tokens") * 123456789012),
    "small and unsigned integers": lambda f: f.with_columns(pl.col("input_tokens").cast(pl.UInt64),
                                                            pl.col("requests").cast(pl.Int8)),
    "decimal": lambda f: f.with_columns(pl.col("accelerator_hours").cast(pl.Decimal(12, 4))),
    "numbers as text": lambda f: f.with_columns(pl.col("input_tokens", "utilization").cast(pl.String)),
    "dates as text": lambda f: f.with_columns(pl.col("period_start", "period_end").cast(pl.String)),
    "midnight timestamps": lambda f: f.with_columns(pl.col("period_start").cast(pl.Datetime("us"))),
    "categorical": lambda f: f.with_columns(pl.col("system", "accelerator").cast(pl.Categorical)),
    "an all-null column": lambda f: f.with_columns(pl.lit(None).alias("mean_context_tokens")),
    "some columns only": lambda f: f.select("segment", "period_end", "system", "period_start", "output_tokens"),
    "upper-case names": lambda f: f.rename({"system": "SYSTEM", "segment": " Segment "}),
    "empty text": lambda f: _set(_set(f, "version", 1, ""), "segment", 2, ""),
    "whitespace": lambda f: _set(_set(f, "system", 0, " sys-0 "), "segment", 3, " seg-3"),
    "padded segments, none repeated": lambda f: _set(_set(f, "segment", 5, "\u00a0seg-5\t"), "segment", 6, "東京 "),
    "no segment column": lambda f: f.drop("segment").filter(pl.int_range(pl.len()) < 12),
    "dates before 1970": lambda f: f.with_columns(pl.col("period_start", "period_end").dt.offset_by("-60y")),
    "blank row": lambda f: pl.concat([f, pl.DataFrame({c: [None] for c in f.columns}, schema=f.schema)]),
    # Rejected, and worded as for the same file uploaded:
    "NaN": lambda f: _set(f, "accelerator_hours", 6, float("nan")),
    "infinity": lambda f: _set(f, "mean_context_tokens", 7, float("inf")),
    # A count stored as a float keeps the rules an integer cannot break (finite, whole):
    "a count stored as a float, NaN": lambda f: _set(f.with_columns(pl.col("requests").cast(pl.Float64)),
                                                     "requests", 6, float("nan")),
    "a count stored as a float, a fraction": lambda f: _set(f.with_columns(pl.col("requests").cast(pl.Float64)),
                                                            "requests", 6, 10.5),
    "negative": lambda f: _set(f, "input_tokens", 6, -5),
    "utilization zero": lambda f: _set(f, "utilization", 7, 0.0),
    "utilization above 1": lambda f: _set(f, "utilization", 7, 1.5),
    "hours without accelerator": lambda f: _set(f, "accelerator", 5, None),
    "unknown accelerator": lambda f: _set(f, "accelerator", 5, "Z9000"),
    "repeated identity": lambda f: _set(_set(_set(f, "segment", 4, "seg-0"), "version", 4, "2"), "accelerator", 4, "x"),
    # Row 12 has row 0's system, version and period: its segment, stripped, repeats row 0's.
    "a repeat with a padded segment": lambda f: _set(f, "segment", 12, " seg-0"),
    "a repeat with a segment padded by a wide space": lambda f: _set(f, "segment", 12, "seg-0\u3000"),
    "a repeat with a blank segment": lambda f: _set(_set(f, "segment", 0, ""), "segment", 12, " "),
    "an overlong segment": lambda f: _set(f, "segment", 8, "s" * 300),
    "a segment with a zero-width space": lambda f: _set(f, "segment", 8, "seg\u200b8"),
    "a segment NFC composes": lambda f: _set(f, "segment", 8, "seg-A\u030a"),
    "segments repeated on every key, one padded": lambda f: _set(
        f.with_columns(pl.format("r{}", pl.int_range(pl.len()) // 12).alias("segment")), "segment", 9, "r0 "),
    "a repeat with another accelerator": lambda f: _set(_set(f, "segment", 12, "seg-0"), "accelerator", 12, "a100"),
    "noon timestamps": lambda f: f.with_columns(pl.col("period_start").cast(pl.Datetime("us")) + pl.duration(hours=12)),
    "zoned timestamps": lambda f: f.with_columns(pl.col("period_start").cast(pl.Datetime("ms", "UTC"))),
    "booleans": lambda f: f.with_columns(pl.col("requests").cast(pl.Boolean)),
    "text that is no number": lambda f: _set(f.with_columns(pl.col("input_tokens").cast(pl.String)),
                                             "input_tokens", 3, "12x"),
    "a list column": lambda f: f.with_columns(pl.col("segment").str.split("-")),
    "an unknown column": lambda f: f.with_columns(pl.lit(1).alias("region")),
    "no rows": lambda f: f.head(0),
    "many problems": lambda f: pl.concat([f] * 10).with_columns(
        pl.format("s{}", pl.int_range(0, pl.len())).alias("segment"),
        pl.when(pl.int_range(0, pl.len()) % 2 == 0).then(-1).otherwise(pl.col("input_tokens")).alias("input_tokens")),
}


@pytest.mark.parametrize("variant", list(PARQUET_VARIANTS))
def test_parquet_read_lazily_files_exactly_as_uploaded(tmp_path: Path, variant: str) -> None:
    path = tmp_path / "usage.parquet"
    PARQUET_VARIANTS[variant](typed_frame()).write_parquet(path)
    uploaded = outcome(lambda: parse_disclosure(path.read_bytes(), path.name, KIND))
    from_disk = outcome(lambda: parse_disclosure_file(path, path.name, KIND))
    assert_same(from_disk, uploaded)
    with_screen, exact = screened_and_exact(path)
    assert_same(with_screen, exact)


def test_a_file_that_is_not_parquet_is_worded_as_an_upload(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    path.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    uploaded = outcome(lambda: parse_disclosure(path.read_bytes(), path.name, KIND))
    assert uploaded[0] == "rejected" and "cannot read as Parquet" in uploaded[1][0]
    assert outcome(lambda: parse_disclosure_file(path, path.name, KIND)) == uploaded


def test_a_parquet_file_filed_without_a_kind_is_read_lazily_by_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    typed_frame().write_parquet(path)
    parsed = parse_disclosure_file(path, path.name, None)
    assert parsed.kind is INFERENCE_USAGE and parsed.rows_read == 40


def test_a_repeat_across_accelerators_and_spellings_of_a_segment_is_not_vouched_for(tmp_path: Path) -> None:
    for segment in ("seg-0", " seg-0", "seg-0\u2003", "\u00a0seg-0\n"):
        path = tmp_path / "usage.parquet"
        _set(_set(typed_frame(), "segment", 12, segment), "accelerator", 12, "a100").write_parquet(path)
        assert screen_of(path) is None
        with_screen, exact = screened_and_exact(path)
        assert with_screen == exact and exact[0] == "rejected"


@pytest.mark.parametrize("hashes", [[], [7], [0, 1, 2**63, 2**64 - 1]])
def test_repeated_hashes_are_found_at_every_value(hashes: list[int]) -> None:
    distinct = pl.Series("h", hashes, dtype=pl.UInt64)
    assert repeated_hashes(distinct).is_empty()
    for value in hashes:
        again = pl.concat([distinct, pl.Series("h", [value], dtype=pl.UInt64)])
        assert repeated_hashes(again).to_list() == [value]


# --- files the screen steps aside for -------------------------------------------------------------

NUMBER_CELLS = ["abc", "NaN", "inf", "-inf", "1e400", "-1", "-0.5", "1,000", "0x10", "1_000", "--1", "1e", "- 1",
                "１２"]
BAD_CELLS = [
    *[(column, cell) for column in ("input_tokens", "requests", "accelerator_hours", "utilization")
      for cell in NUMBER_CELLS],
    ("output_tokens", "-1"), ("mean_context_tokens", "nan"),
    ("requests", "1.5"), ("requests", "2.000001"), ("utilization", "0"), ("utilization", "-0"),
    ("utilization", "1.0000001"), ("system", ""), ("system", "   "), ("system", "x" * 201), ("version", "v" * 65),
    ("period_start", ""), ("period_start", "2025-02-30"), ("period_start", "01/02/2025"),
    ("period_start", "2025-1-01"), ("period_start", "2025-01-01 10:00:00"), ("period_end", "2024-12-01"),
    ("accelerator", "Z9000"), ("accelerator", "a" * 129), ("segment", "s" * 201),
    # Implausible dates (issue 15): outside 1950-01-01 to 2099-12-31.
    ("period_start", "0001-01-01"), ("period_start", "1949-12-31"), ("period_end", "9999-12-31"),
    ("period_end", "2100-01-01"),
    # Characters that do not show (issue 15: look-alike names), in every text column of the kind.
    ("system", "sys\u202e-6"), ("system", "sys-6\x00"), ("version", "2\u200b"), ("accelerator", "H100\u200d"),
    ("segment", "seg\u200b-6"), ("segment", "seg-6\x1b"), ("segment", "\u2066seg-6"),
]


@pytest.mark.parametrize(("column", "cell"), BAD_CELLS)
def test_a_bad_cell_makes_the_screen_step_aside_and_is_worded_exactly(tmp_path: Path, column: str,
                                                                      cell: str) -> None:
    rows = clean_rows()
    rows[6][HEADER.index(column)] = cell
    rows[6][8] = rows[6][8] or "H100"  # row 7's hours need an accelerator, or that is the problem
    path = write_csv(tmp_path / "usage.csv", rows)
    assert screen_of(path) is None
    with_screen, exact = screened_and_exact(path)
    assert with_screen == exact and exact[0] == "rejected"
    assert any(line.startswith(f"row 7, {column}:") for line in exact[1])


@pytest.mark.parametrize("cell", ["5 ", " 5 ", "\u00a05"])
def test_a_number_the_reader_cannot_take_but_the_rules_can_is_filed_the_exact_way(tmp_path: Path, cell: str) -> None:
    rows = clean_rows()
    rows[6][HEADER.index("input_tokens")] = cell
    path = write_csv(tmp_path / "usage.csv", rows)
    assert screen_of(path) is None  # the typed reader refuses trailing space; stripped, it is a number
    with_screen, exact = screened_and_exact(path)
    assert_same(with_screen, exact)


def _rows_with(change: Callable[[list[list[str]]], None]) -> list[list[str]]:
    rows = clean_rows()
    change(rows)
    return rows


def _repeat(row: int, **cells: str) -> Callable[[list[list[str]]], None]:
    def change(rows: list[list[str]]) -> None:
        rows[row + 1] = list(rows[row])
        for name, value in cells.items():
            rows[row + 1][HEADER.index(name)] = value
    return change


ROW_CASES: dict[str, Callable[[list[list[str]]], None]] = {
    "no usage figure": lambda r: r[6].__setitem__(slice(4, 6), ["", ""]) or r[6].__setitem__(9, ""),
    "hours without accelerator": lambda r: r[6].__setitem__(8, "") or r[6].__setitem__(9, "3"),
    "a repeated identity": _repeat(6),
    "a repeat spelled otherwise": _repeat(6, system=" sys-2", period_start="2025-01-01 00:00"),
    "a repeat with a blank segment": lambda r: (r[6].__setitem__(11, ""),
                                                _repeat(6, segment="  ", accelerator="A100")(r)),
    "a repeat with a blank version": _repeat(6, version="  "),
    "two spellings of one system": lambda r: r[5].__setitem__(0, " sys-1"),
    "a blank line": lambda r: r.insert(3, [""] * 12),
    # Text is compared in NFC: the same segment or system typed decomposed is the same one.
    "a repeat with a decomposed segment": lambda r: (r[6].__setitem__(11, "r\u00e9gion"),
                                                     _repeat(6, segment="re\u0301gion")(r)),
    "two spellings of one system in NFC": lambda r: (r[5].__setitem__(0, "syst\u00e8me"),
                                                     r[9].__setitem__(0, "syste\u0300me")),
    "a segment with an accent, valid": lambda r: r[6].__setitem__(11, "r\u00e9gion/\u6771\u4eac"),
}


@pytest.mark.parametrize("case", list(ROW_CASES))
def test_rules_across_rows_and_cells_are_the_exact_paths(tmp_path: Path, case: str) -> None:
    path = write_csv(tmp_path / "usage.csv", _rows_with(ROW_CASES[case]))
    with_screen, exact = screened_and_exact(path)
    assert_same(with_screen, exact)
    if exact[0] == "rejected" or case.startswith("two spellings") or case == "a blank line":
        assert screen_of(path) is None


SEGMENT_CASES = {
    **{f"segment={cell!r}": _rows_with(lambda r, cell=cell: r[6].__setitem__(11, cell))
       for column, cell in BAD_CELLS if column == "segment"},
    **{case: _rows_with(change) for case, change in ROW_CASES.items() if "segment" in case},
    "a padded segment, no repeat": _rows_with(lambda r: r[6].__setitem__(11, " seg-6")),
    "a blank segment": _rows_with(lambda r: r[6].__setitem__(11, "")),
    "clean": clean_rows(),
}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("case", list(SEGMENT_CASES))
def test_segments_too_many_to_keep_are_checked_row_by_row_to_the_same_outcome(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str, fmt: str) -> None:
    path = as_format(write_csv(tmp_path / "usage.csv", SEGMENT_CASES[case]), fmt)
    kept = screened_and_exact(path)
    monkeypatch.setattr(screen, "SEGMENTS_KEPT", 1)  # every file here has more distinct segments
    row_by_row = screened_and_exact(path)
    assert_same(row_by_row[0], row_by_row[1])
    assert_same(row_by_row[0], kept[0])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_clean_file_with_too_many_segments_to_keep_is_still_vouched_for(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    path = as_format(write_csv(tmp_path / "usage.csv", clean_rows()), fmt)
    checked: list[list[int] | None] = []
    row_by_row = screen._segments_row_by_row
    monkeypatch.setattr(screen, "SEGMENTS_KEPT", 39)  # 40 distinct segments
    monkeypatch.setattr(screen, "_segments_row_by_row", lambda *a: checked.append(row_by_row(*a)) or checked[-1])
    vouched = screen_of(path)
    assert checked == [[]] and vouched is not None and vouched.rows == 40


@pytest.mark.parametrize("column", [0, 2, 4, 8, 11])
def test_bytes_that_are_not_utf8_anywhere_are_named_by_offset(tmp_path: Path, column: int) -> None:
    rows = clean_rows()
    rows[30][column] = rows[30][column] + "\udcff"  # written below as the raw byte 0xff
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([HEADER, *rows])
    path = tmp_path / "usage.csv"
    path.write_bytes(text.getvalue().encode("utf-8", errors="surrogateescape"))
    assert screen_of(path) is None
    with_screen, exact = screened_and_exact(path)
    assert with_screen == exact
    assert exact[0] == "rejected" and "text is not UTF-8: byte 0xff at byte offset" in exact[1][0]


def test_a_malformed_line_is_worded_as_for_an_upload(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "usage.csv", [*clean_rows(), [*clean_rows()[0], "extra"]])
    with_screen, exact = screened_and_exact(path)
    uploaded = outcome(lambda: parse_disclosure(path.read_bytes(), path.name, KIND))
    assert with_screen == exact == uploaded
    assert exact[1] == ["row 41: has 13 fields; expected 12 like the header (a missing delimiter or an unclosed "
                        "quote?)"]


# --- any table of tricky cells: the same outcome both ways -----------------------------------------

_TRICKY = {
    "system": ["a", " a", "b", "", "x" * 201],
    "version": ["", " ", "1"],
    "period_start": ["2025-01-01", "2025-01-01 00:00:00", "2025-02-30", "", "2025-02-01"],
    "period_end": ["2025-01-31", "2024-12-31", "2025-02-28"],
    "number": ["", "0", "1", " 7", "2.5", "-1", "1e400", "nan", "x", "3 "],
    "accelerator": ["", "H100", "h100", "NVIDIA H100 SXM5", "A100", "Z9000"],
    "utilization": ["", "0.5", "1", "0", "1.5"],
    "segment": ["", " ", "eu", "eu ", "us"],
}
_ROW = st.fixed_dictionaries({
    "system": st.sampled_from(_TRICKY["system"]), "version": st.sampled_from(_TRICKY["version"]),
    "period_start": st.sampled_from(_TRICKY["period_start"]), "period_end": st.sampled_from(_TRICKY["period_end"]),
    "input_tokens": st.sampled_from(_TRICKY["number"]), "output_tokens": st.sampled_from(_TRICKY["number"]),
    "requests": st.sampled_from([*_TRICKY["number"], "1.5"]), "mean_context_tokens": st.sampled_from(_TRICKY["number"]),
    "accelerator": st.sampled_from(_TRICKY["accelerator"]), "accelerator_hours": st.sampled_from(_TRICKY["number"]),
    "utilization": st.sampled_from(_TRICKY["utilization"]), "segment": st.sampled_from(_TRICKY["segment"]),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_ROW, min_size=1, max_size=6))
def test_any_table_of_tricky_cells_has_one_outcome_both_ways(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    path = write_csv(tmp_path / "usage.csv", [[row[c] for c in HEADER] for row in rows])
    with_screen, exact = screened_and_exact(path)
    assert_same(with_screen, exact)
    text = pl.read_csv(path, infer_schema=False, empty_string_is_null=False)
    text.write_parquet(tmp_path / "usage.parquet")
    with_screen, exact = screened_and_exact(tmp_path / "usage.parquet")
    assert_same(with_screen, exact)


# --- the same verdict at every size, from bytes and from a path --------------------------------------

def _not_utf8(rows: list[list[str]]) -> None:
    rows[30][0] += "\udcff"  # written as the raw byte 0xff


def _bad_cell(column: str, cell: str) -> Callable[[list[list[str]]], None]:
    def change(rows: list[list[str]]) -> None:
        rows[6][HEADER.index(column)] = cell
        rows[6][8] = rows[6][8] or "H100"  # row 7's hours need an accelerator, or that is the problem
    return change


SIZE_CASES: dict[str, Callable[[list[list[str]]], None]] = {
    "clean": lambda r: None,
    **{f"{column}={cell!r}": _bad_cell(column, cell) for column, cell in BAD_CELLS},
    **{f"{name}": change for name, change in ROW_CASES.items()},
    "a malformed line": lambda r: r.append([*clean_rows()[0], "extra"]),
    "not UTF-8": _not_utf8,
}


def _content(rows: list[list[str]]) -> bytes:
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerows([HEADER, *rows])
    return text.getvalue().encode("utf-8", errors="surrogateescape")


def _padding(n: int) -> list[list[str]]:
    """Clean rows after the case's own: the same systems and periods, segments of their own."""
    return [[*row[:11], f"pad-{i}"] for i, row in enumerate(clean_rows(n))]


def _verdict(result: Outcome) -> Outcome:
    return result if result[0] == "rejected" else result[:2]  # padding adds records, nothing else


def _every_case(test: Callable[..., None]) -> Callable[..., None]:
    """Each case once, with a padding and routes that vary from case to case, before random draws."""
    for i, case in enumerate(SIZE_CASES):
        test = example(case=case, pad=i % 60 + 1, small_path=i % 2 == 0, padded_path=i % 3 == 0)(test)
    return test


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(list(SIZE_CASES)), pad=st.integers(min_value=1, max_value=60),
       small_path=st.booleans(), padded_path=st.booleans())
@_every_case
def test_every_case_has_one_verdict_small_and_padded_past_the_threshold(
        tmp_path: Path, case: str, pad: int, small_path: bool, padded_path: bool) -> None:
    """A small file read in memory and the same file padded past the large-file threshold (streamed),
    each through bytes or a path: the same problems, or both accepted."""
    rows = clean_rows()
    SIZE_CASES[case](rows)
    small = _content(rows)
    padded = small + _content(_padding(pad)).split(b"\n", 1)[1]
    threshold = len(small)  # the small file is read in memory, the padded one past it is streamed
    verdicts = [_verdict(_filed(tmp_path, content, from_path, threshold))
                for content, from_path in ((small, small_path), (padded, padded_path))]
    assert verdicts[0] == verdicts[1]


def _filed(tmp_path: Path, content: bytes, from_path: bool, threshold: int) -> Outcome:
    path = tmp_path / "usage.csv"
    path.write_bytes(content)
    if from_path:
        return outcome(lambda: parse_disclosure_file(path, path.name, KIND, large_file_bytes=threshold))
    return outcome(lambda: parse_disclosure(content, path.name, KIND, large_file_bytes=threshold))
