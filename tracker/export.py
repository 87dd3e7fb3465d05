"""Tables to CSV and XLSX bytes, safe to open in a spreadsheet.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return is run as a formula
by Excel, LibreOffice and Google Sheets (CSV injection). System names and notes are written by
providers, so every text cell that starts that way is prefixed with ``'`` (OWASP's advice); numbers
stay numbers.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

import xlsxwriter

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
Column = tuple[str, str]  # (key in the row, header shown)


def neutralise(value: Any) -> Any:
    """The value with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = ",".join(str(v) for v in value)
    return neutralise(value)


def to_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column]) -> bytes:
    """UTF-8 CSV with a header row; the BOM makes Excel read the encoding right."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(header) for _, header in columns])
    for row in rows:
        writer.writerow(["" if row.get(key) is None else _cell(row.get(key)) for key, _ in columns])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], *, sheet: str = "export") -> bytes:
    """One worksheet; text is written as text (never as a formula), numbers as numbers."""
    buffer = io.BytesIO()
    # strings_to_formulas=False is the second lock: even an unprefixed '=' string stays text.
    book = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False,
                                        "strings_to_urls": False})
    ws = book.add_worksheet(sheet[:31])
    bold = book.add_format({"bold": True})
    for col, (_, header) in enumerate(columns):
        ws.write_string(0, col, str(neutralise(header)), bold)
    for r, row in enumerate(rows, start=1):
        for col, (key, _) in enumerate(columns):
            value = _cell(row.get(key))
            if value is None:
                continue
            if isinstance(value, bool):
                ws.write_boolean(r, col, value)
            elif isinstance(value, int | float):
                ws.write_number(r, col, value)
            else:
                ws.write_string(r, col, str(value))
    book.close()
    return buffer.getvalue()
