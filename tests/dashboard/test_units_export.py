"""The FLOP formatter and the spreadsheet-safe exports."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tracker.export import neutralise, to_csv, to_xlsx
from tracker.units import format_flop, format_interval


@pytest.mark.parametrize(("value", "text"), [
    (3.8e25, "3.8 × 10²⁵ FLOP"), (1e25, "1.0 × 10²⁵ FLOP"), (9.96e25, "1.0 × 10²⁶ FLOP"),
    (2.04e23, "2.0 × 10²³ FLOP"), (512, "512 FLOP"), (0, "0 FLOP"), (None, "—"), (float("nan"), "—"),
])
def test_format_flop(value: float | None, text: str) -> None:
    assert format_flop(value) == text


def test_format_interval() -> None:
    assert format_interval(2.9e25, 4.9e25) == "2.9 × 10²⁵ – 4.9 × 10²⁵ FLOP"
    assert format_interval(None, 4.9e25) == "—"


ROWS = [{"name": "=HYPERLINK(\"http://evil\",\"x\")", "note": "+1", "who": "@sum", "minus": "-2+3",
         "tab": "\tcmd", "cr": "\rcmd", "plain": "acme-lm", "flop": 3.8e25, "neg": -1.5}]
COLUMNS = [(k, k) for k in ROWS[0]]


def test_neutralise_prefixes_only_formula_text() -> None:
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("acme") == "acme"
    assert neutralise(-5) == -5  # numbers stay numbers


def test_csv_cells_cannot_start_a_formula() -> None:
    text = to_csv(ROWS, COLUMNS).decode("utf-8-sig")
    row = next(r for i, r in enumerate(csv.reader(io.StringIO(text))) if i == 1)
    assert all(not cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in row[:6])
    assert row[0] == "'=HYPERLINK(\"http://evil\",\"x\")" and row[6] == "acme-lm"
    assert float(row[7]) == 3.8e25 and row[8] == "-1.5"


def test_xlsx_writes_text_as_text_and_numbers_as_numbers() -> None:
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(ROWS, COLUMNS)))
    sheet = book.active
    assert sheet is not None
    values = [c.value for c in sheet[2]]
    assert values[0] == "'=HYPERLINK(\"http://evil\",\"x\")"
    assert all(c.data_type == "s" for c in sheet[2][:7])  # no formula cells at all
    assert values[7] == 3.8e25 and values[8] == -1.5
