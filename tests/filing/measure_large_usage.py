"""Manual measurement: peak RSS of validating and aggregating a large usage CSV (not a test).

Usage: /usr/bin/time -v .venv/bin/python tests/filing/measure_large_usage.py ROWS [PATH]
Writes a usage CSV of ROWS rows (7 systems x 12 monthly periods x unique segments), then runs the
large-file path (the fast pass, or the message pass where it finds a rule broken) and prints rows,
stored aggregates, seconds and peak RSS.
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import polars as pl

from tracker.filing.parse import parse_disclosure_file


def write(path: Path, rows: int, chunk: int = 2_000_000) -> None:
    with path.open("wb") as handle:
        for start in range(0, rows, chunk):
            i = pl.int_range(start, min(start + chunk, rows), eager=True)
            month = (i % 12 + 1).cast(pl.String).str.zfill(2)
            frame = pl.DataFrame({
                "system": "system-" + (i % 7).cast(pl.String),
                "version": pl.repeat("1", len(i), eager=True),
                "period_start": "2025-" + month + "-01",
                "period_end": "2025-" + month + "-28",
                "segment": "region-" + (i % 97).cast(pl.String) + "-hour-" + i.cast(pl.String),
                "input_tokens": (i % 100_000).cast(pl.Float64) * 13.0,
                "output_tokens": (i % 7_000).cast(pl.Float64) * 3.0,
                "requests": (i % 50 + 1),
                "mean_context_tokens": (i % 4096).cast(pl.Float64),
                "accelerator": pl.repeat("H100", len(i), eager=True),
                "accelerator_hours": (i % 8).cast(pl.Float64) / 4.0,
            })
            frame.write_csv(handle, include_header=start == 0)


def main() -> None:
    rows = int(sys.argv[1])
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("/tmp/large_usage.csv")
    if not path.exists():
        write(path, rows)
    size_mb = path.stat().st_size / 1e6
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    parsed = parse_disclosure_file(path, path.name, "inference_usage", large_file_bytes=0)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"file {size_mb:.0f} MB, rows {parsed.rows_read}, stored {parsed.records.height} aggregates, "
          f"{seconds:.1f} s, peak RSS {peak:.0f} MB (after writing the file: {before:.0f} MB)")


if __name__ == "__main__":
    main()
