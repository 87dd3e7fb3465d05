"""Write the binary corpus files (XLSX, Parquet) into a folder: tests run it into tmp_path.

Kept as code rather than committed binaries so a reviewer can read what each file holds.
Usage: python tests/corpus/make_binary.py OUT_DIR
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import polars as pl
import xlsxwriter

TRAINING_HEADER = ["system", "run_id", "accelerator", "accelerator_count", "training_hours", "start_date"]


def _xlsx(path: Path, header: list[str], rows: list[list[object]]) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("disclosure")
    dates = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, header)
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row):
            if isinstance(value, dt.date):
                sheet.write_datetime(r, c, dt.datetime.combine(value, dt.time()), dates)
            elif value is not None:
                sheet.write(r, c, value)
    workbook.add_worksheet("ignored").write(0, 0, "only the first sheet is read")
    workbook.close()


def write_invalid(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _xlsx(out / "xlsx_bad_cell.xlsx", TRAINING_HEADER, [
        ["acme-lm", "r1", "H100", 1000, 100, dt.date(2025, 1, 1)],
        ["acme-lm", "r2", "H100", "abc", 100, None],
    ])
    _xlsx(out / "xlsx_bad_date.xlsx", TRAINING_HEADER, [["acme-lm", "r1", "H100", 1000, 100, "2026-02-30"]])
    pl.DataFrame({
        "system": ["acme-lm", "acme-lm"], "run_id": ["r1", "r2"], "reported_flop": [1e24, 2e24],
        "utilization": [0.4, 1.5],
    }).write_parquet(out / "parquet_bad_value.parquet")
    pl.DataFrame({
        "system": ["acme-lm"], "period_start": [dt.date(2026, 1, 1)], "period_end": [dt.date(2026, 1, 31)],
        "input_tokens": [float("nan")],
    }).write_parquet(out / "parquet_nan.parquet")
    (out / "xlsx_corrupt.xlsx").write_bytes(b"PK\x03\x04" + b"\x00not really a workbook" * 20)
    (out / "parquet_corrupt.parquet").write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")


def write_valid(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    _xlsx(out / "training.xlsx", [*TRAINING_HEADER, "end_date", "Reported_FLOP"], [
        ["acme-lm", "r1", "H100", 16384, 1000, dt.date(2025, 1, 1), dt.date(2025, 3, 1), 3.8e25],
    ])
    pl.DataFrame({
        "system": ["acme-lm"] * 3, "version": ["2"] * 3, "period_start": [dt.date(2026, 1, 1)] * 3,
        "period_end": [dt.date(2026, 1, 31)] * 3, "segment": ["eu", "us", "asia"],
        "input_tokens": [1e12, 2e12, 3e12], "output_tokens": [1e11, None, 3e11], "requests": [10, 20, 30],
    }).write_parquet(out / "usage.parquet")


if __name__ == "__main__":
    target = Path(sys.argv[1])
    write_invalid(target / "invalid")
    write_valid(target / "valid")
