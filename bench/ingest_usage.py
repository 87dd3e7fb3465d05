"""ingest-usage: validate, aggregate and file an N-row ``inference_usage`` disclosure.

Ours is the filing service end to end on SQLite, as the CLI and the inbox call it:
``file_disclosure(engine, content=Path, kind="inference_usage", ...)`` hashes the file (in a
thread, while it is parsed), validates every cell, aggregates per (system, version, period,
accelerator), creates the systems and stores the aggregate with its Filing row and audit event in
one transaction. Usage CSVs above 64 MB and usage Parquet files of any size are read lazily and
checked by the fast pass (``tracker.filing.screen``: one streaming aggregate with the rules; a
CSV's identity hashes and distinct segments kept by a tap on that read, a Parquet file's read in
two small queries of their own), which falls back to the message pass on any doubt; smaller CSVs
are read in memory and take the same fast pass. Each measurement files into a fresh copy of a
migrated, empty database.

The baseline is ``pl.scan_csv(...).group_by(system, version, period_start, period_end,
accelerator).agg(sums, means, len).collect()`` on the same file (``scan_parquet`` for Parquet):
the aggregate without validation, duplicate detection, hashing or storage. It reads the number
columns as Float64, as ours does, so both parse the same way; it is unchanged by this work.
Target: ratio <= 2 and peak memory < 1 GB.

The reject variant (``reject_runs``) files the same CSV with one bad row inserted in the middle
(``input_tokens`` of -5): ours must reject it naming that row and column, within 3x the same
baseline (the fast pass reads the file once and names the row, and the message pass reads the
text once more, filtered to it, to word it).
"""

from __future__ import annotations

import csv
import io
import shutil
import uuid
from pathlib import Path
from typing import Any

import polars as pl

from bench import common, generate

NAME = "ingest-usage"
BASE_SIZE = 100_000  # rows at x1; x100 = 10,000,000
TARGET_RATIO = 2.0
REJECT_TARGET_RATIO = 3.0
PEAK_TARGET_MB = 1024
REPETITIONS = {1: 5, 10: 3, 100: 2}
PARQUET_REPETITIONS = {1: 3, 10: 3, 100: 5}  # a Parquet run is short: one alone swings +-0.3 s
MODULE = "bench.ingest_usage"
KEY = ["system", "version", "period_start", "period_end", "accelerator"]


def prepare(size: int) -> dict[str, Any]:
    directory = common.work_dir(NAME) / f"n{size}"
    files = generate.write_usage_files(directory, size)
    files["reject"], bad_row = _with_one_bad_row(Path(files["csv"]))
    template = directory / "template.db"
    common.create_schema(f"sqlite:///{template}")
    return {"files": files, "template": str(template), "directory": str(directory), "bad_row": bad_row,
            "bytes": {k: Path(v).stat().st_size for k, v in files.items()}}


def _with_one_bad_row(path: Path) -> tuple[str, int]:
    """A copy of the CSV with a row of negative input_tokens inserted half-way; its row number."""
    out = path.with_name(path.stem + "_reject.csv")
    with path.open("rb") as source, out.open("wb") as target:
        header = source.readline()
        first = source.readline()
        target.write(header + first)
        rows, copied, half = 1, 0, path.stat().st_size // 2
        while copied < half and (chunk := source.read(min(1 << 22, half - copied))):
            target.write(chunk)
            copied += len(chunk)
            rows += chunk.count(b"\n")
        rest = source.readline()  # to the end of the line the half-way point fell in
        target.write(rest)
        rows += 1 if rest.endswith(b"\n") else 0
        names = next(csv.reader([header.decode()]))
        cells = next(csv.reader([first.decode()]))
        cells[names.index("input_tokens")], cells[names.index("segment")] = "-5", "the-bad-row"
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(cells)
        target.write(buffer.getvalue().encode())
        shutil.copyfileobj(source, target, 1 << 22)
    return str(out), rows + 1


def setup(ctx: dict[str, Any]) -> dict[str, Any]:
    from tracker.catalog.accelerators import load_catalog

    db = Path(ctx["directory"]) / f"run-{uuid.uuid4().hex[:8]}.db"
    shutil.copyfile(ctx["template"], db)
    from tracker.store.db import make_engine

    load_catalog()  # cached per process; the CLI has it loaded too
    import tracker.filing.service  # noqa: F401  (imported once by any process that files, not per filing)

    return {"ctx": ctx, "db": db, "engine": make_engine(f"sqlite:///{db}")}


def teardown(state: dict[str, Any]) -> None:
    state["engine"].dispose()
    for suffix in ("", "-wal", "-shm"):
        Path(str(state["db"]) + suffix).unlink(missing_ok=True)


def _file(state: dict[str, Any], fmt: str) -> dict[str, Any]:
    from tracker.filing.receipts import Rejection
    from tracker.filing.service import file_disclosure

    path = Path(state["ctx"]["files"][fmt])
    outcome = file_disclosure(state["engine"], content=path, filename=path.name, kind="inference_usage",
                              provider_slug="bench-provider", filed_by="bench", channel="cli")
    if isinstance(outcome, Rejection):
        raise RuntimeError(f"the generated file was rejected: {outcome.errors[:3]}")
    return {"records": outcome.records, "accession": outcome.accession}


def ours(state: dict[str, Any]) -> dict[str, Any]:
    return _file(state, "csv")


def ours_parquet(state: dict[str, Any]) -> dict[str, Any]:
    return _file(state, "parquet")


def ours_reject(state: dict[str, Any]) -> dict[str, Any]:
    from tracker.filing.receipts import Rejection
    from tracker.filing.service import file_disclosure

    path = Path(state["ctx"]["files"]["reject"])
    outcome = file_disclosure(state["engine"], content=path, filename=path.name, kind="inference_usage",
                              provider_slug="bench-provider", filed_by="bench", channel="cli")
    expected = f"row {state['ctx']['bad_row']}, input_tokens: -5 is negative"
    if not isinstance(outcome, Rejection) or not any(str(p).startswith(expected) for p in outcome.errors):
        raise RuntimeError(f"expected {expected!r}, got {getattr(outcome, 'errors', outcome)!r}"[:600])
    return {"errors": len(outcome.errors), "first_error": str(outcome.errors[0])}


def _aggregate(lf: pl.LazyFrame) -> dict[str, Any]:
    out = lf.group_by(KEY).agg(
        pl.col("input_tokens", "output_tokens", "requests", "accelerator_hours").sum(),
        pl.col("mean_context_tokens").mean(), pl.col("utilization").mean(), pl.len().alias("rows"),
    ).collect()
    return {"records": out.height, "rows": int(out.get_column("rows").sum())}


def baseline(state: dict[str, Any]) -> dict[str, Any]:
    numbers = ("input_tokens", "output_tokens", "requests", "mean_context_tokens", "accelerator_hours", "utilization")
    return _aggregate(pl.scan_csv(state["ctx"]["files"]["csv"], schema_overrides={
        **{c: pl.Float64 for c in numbers}, "version": pl.String}))


def baseline_parquet(state: dict[str, Any]) -> dict[str, Any]:
    return _aggregate(pl.scan_parquet(state["ctx"]["files"]["parquet"]))


def run(scales: list[int], log: Any = print) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    parquet_runs: list[dict[str, Any]] = []
    reject_runs: list[dict[str, Any]] = []
    try:
        for scale in scales:
            size = BASE_SIZE * scale
            log(f"{NAME}: x{scale} = {size:,} rows")
            ctx = prepare(size)
            megabytes = {k: round(v / 2**20) for k, v in ctx["bytes"].items()}
            log(f"  files: csv {megabytes['csv']:,} MB, parquet {megabytes['parquet']:,} MB")
            entry = common.compare_runs(MODULE, ctx, REPETITIONS[scale], size=size, scale=scale, log=log)
            entry.update(format="csv", file_mb=round(ctx["bytes"]["csv"] / 2**20, 1),
                         path="fast pass, streamed (tracker.filing.screen)" if ctx["bytes"]["csv"] > 64 * 2**20
                         else "fast pass, in memory (tracker.filing.screen)")
            runs.append(entry)
            try:
                pq = common.compare_runs(MODULE, ctx, PARQUET_REPETITIONS[scale], size=size, scale=scale, log=log,
                                         variants=("ours_parquet", "baseline_parquet"))
                pq.update(format="parquet", file_mb=round(ctx["bytes"]["parquet"] / 2**20, 1),
                          path="fast pass, streamed (tracker.filing.screen)")
            except RuntimeError as exc:  # e.g. out of memory: record it instead of losing the CSV figures
                pq = {"size": size, "scale": scale, "format": "parquet", "error": str(exc)[-600:]}
                log(f"  parquet failed: {str(exc)[-300:]}")
            parquet_runs.append(pq)
            reject = common.compare_runs(MODULE, ctx, REPETITIONS[scale], size=size, scale=scale, log=log,
                                         variants=("ours_reject", "baseline"))
            reject.update(format="csv", case="one bad row, rejected with its row and column")
            reject_runs.append(reject)
            shutil.rmtree(ctx["directory"], ignore_errors=True)
    finally:
        common.clean_work_dir(NAME)
    for entry in [*runs, *parquet_runs]:
        if "ratio" in entry:
            entry["meets_target"] = (entry["ratio"] is not None and entry["ratio"] <= TARGET_RATIO
                                     and entry["peak_rss_mb"] < PEAK_TARGET_MB)
    for entry in reject_runs:
        entry["meets_target"] = (entry["ratio"] is not None and entry["ratio"] <= REJECT_TARGET_RATIO
                                 and entry["peak_rss_mb"] < PEAK_TARGET_MB)
    meets = (bool(runs) and runs[-1]["meets_target"] and parquet_runs[-1].get("meets_target", False)
             and reject_runs[-1]["meets_target"])
    common.write_result(
        NAME, runs, TARGET_RATIO, meets, peak_rss_target_mb=PEAK_TARGET_MB, parquet_runs=parquet_runs,
        reject_runs=reject_runs, reject_target_ratio=REJECT_TARGET_RATIO,
        target="ratio <= 2 and peak RSS < 1 GB at 10,000,000 rows, CSV (runs) and Parquet (parquet_runs); "
               "a CSV with one bad row rejected naming it within 3x the baseline (reject_runs)",
        notes=(f"size = data rows of the file (x1 = {BASE_SIZE:,}); ~6,000 (system, version, period, accelerator) "
               "keys whatever the size; usage CSVs over 64 MB and every usage Parquet file are streamed, smaller "
               "CSVs read in memory, all through the fast pass (tracker.filing.screen); each measurement files "
               "into a fresh copy of an empty migrated SQLite database; peak_rss_mb is the whole process "
               "(interpreter and imports ~150 MB included); repetitions per size (CSV / Parquet): "
               + ", ".join(f"x{s}: {REPETITIONS[s]}/{PARQUET_REPETITIONS[s]}" for s in scales)
               + "; meets_target is judged at the largest size run, on both formats."),
    )
    return {"name": NAME, "runs": runs, "meets_target": meets}
