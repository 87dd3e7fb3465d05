"""store: write N estimate and flag rows (half each) through ``tracker.store.bulk.insert_frame``.

Ours is what the evaluation shell does with its frames: ``insert_frame`` into ``estimate`` and
``flag`` in one transaction, committed (COPY ... FROM STDIN with one ``write_row`` per row on
PostgreSQL, SQLAlchemy ``executemany`` over ``to_dicts()`` on SQLite). Baselines, on the same
empty tables with the same indexes:

* PostgreSQL: psycopg ``COPY ... FROM STDIN (FORMAT csv)`` fed the frame as CSV (polars
  ``write_csv``), i.e. the same COPY with the rows serialised by polars instead of Python.
* SQLite: ``sqlite3`` ``executemany`` over ``frame.iter_rows()`` tuples, one transaction.

The target (1.5x) is on PostgreSQL. ``details.pipeline_writers_s`` additionally times the
pipeline's own writers (``_write_estimates`` + ``_write_flags``: read current rows, diff, write)
on a RegistryResult of about the same number of rows, first evaluation into empty tables.
"""

from __future__ import annotations

import sqlite3
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa

from bench import common, generate

NAME = "store"
BASE_SIZE = 10_000  # rows at x1 (estimates + flags); x100 = 1,000,000
TARGET_RATIO = 1.5
REPETITIONS = {1: 5, 10: 3, 100: 2}
SQLITE_REPETITIONS = {1: 3, 10: 2, 100: 1}
PIPELINE_REPETITIONS = {1: 1, 10: 1, 100: 1}
MODULE = "bench.store"
PG_DATABASE = "tracker_bench_store"
ROWS_PER_SYSTEM_IN_PIPELINE = 15  # ~13 flags (regimes active on AS_OF) + ~2.3 estimates per system


def _systems_needed(size: int) -> int:
    return max(size // 8 + 1, size // ROWS_PER_SYSTEM_IN_PIPELINE + 1)


def _seed_database(url: str, n_systems: int) -> None:
    """Schema, one provider, ``n_systems`` systems (ids 1..n) and the regimes: what the rows reference."""
    from sqlmodel import Session

    from tracker.regimes.load import load_regimes
    from tracker.registry.pipeline import sync_regimes
    from tracker.store.bulk import insert_frame
    from tracker.store.db import make_engine
    from tracker.store.models import AISystem, Provider

    common.create_schema(url)
    engine = make_engine(url)
    with Session(engine) as session:
        session.add(Provider(id=1, slug="bench", name="Bench"))
        session.flush()
        sync_regimes(session, load_regimes(), "bench")
        systems = pl.DataFrame({"id": range(1, n_systems + 1)}).select(
            "id", provider_id=pl.lit(1), name=pl.format("model-{}", "id"), version=pl.lit(""),
            created_at=pl.lit(generate.datetime(2026, 1, 1, tzinfo=generate.UTC)).dt.convert_time_zone("UTC"),
        )
        insert_frame(session.connection(), AISystem.__table__, systems)  # type: ignore[attr-defined]
        session.commit()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT setval('ai_system_id_seq', (SELECT max(id) FROM ai_system))"))
            conn.execute(sa.text("ANALYZE"))
    engine.dispose()


def prepare(size: int, postgres: bool) -> dict[str, Any]:
    from tracker.regimes.load import load_regimes

    directory = common.work_dir(NAME) / f"n{size}"
    directory.mkdir(parents=True, exist_ok=True)
    regime_ids = [r.id for r in load_regimes()]
    n_systems = _systems_needed(size)
    estimates = generate.estimate_rows(size // 2, max(1, size // 8))
    flags = generate.flag_rows(size - size // 2, regime_ids)
    estimates.write_parquet(directory / "estimates.parquet")
    flags.write_parquet(directory / "flags.parquet")
    registry = generate.write_registry(directory / "registry", max(1, size // ROWS_PER_SYSTEM_IN_PIPELINE))
    sqlite_path = directory / "store.db"
    for suffix in ("", "-wal", "-shm"):
        sqlite_path.with_name(sqlite_path.name + suffix).unlink(missing_ok=True)
    urls = {"sqlite": f"sqlite:///{sqlite_path}"}
    if postgres:
        urls["postgresql"] = common.pg_create(PG_DATABASE)
    for url in urls.values():
        _seed_database(url, n_systems)
    return {"estimates": str(directory / "estimates.parquet"), "flags": str(directory / "flags.parquet"),
            "registry": registry, "urls": urls, "backend": "postgresql", "as_of": generate.AS_OF.isoformat()}


def setup(ctx: dict[str, Any]) -> dict[str, Any]:
    from tracker.store.db import make_engine

    engine = make_engine(ctx["urls"][ctx["backend"]])
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("TRUNCATE estimate, flag RESTART IDENTITY"))
        else:
            conn.execute(sa.text("DELETE FROM estimate"))
            conn.execute(sa.text("DELETE FROM flag"))
    state: dict[str, Any] = {"engine": engine, "ctx": ctx, "estimates": pl.read_parquet(ctx["estimates"]),
                             "flags": pl.read_parquet(ctx["flags"])}
    if ctx.get("pipeline"):
        from tracker.catalog.accelerators import load_catalog
        from tracker.regimes.load import load_regimes
        from tracker.registry.compute import compute_registry

        inputs = generate.read_registry(ctx["registry"])
        state["result"] = compute_registry(inputs, load_catalog(), load_regimes(), date.fromisoformat(ctx["as_of"]))
    return state


def teardown(state: dict[str, Any]) -> None:
    state["engine"].dispose()


def ours(state: dict[str, Any]) -> dict[str, Any]:
    from tracker.store.bulk import insert_frame
    from tracker.store.models import Estimate, Flag

    engine = state["engine"]
    with engine.begin() as conn:
        written = insert_frame(conn, Estimate.__table__, state["estimates"])  # type: ignore[attr-defined]
        written += insert_frame(conn, Flag.__table__, state["flags"])  # type: ignore[attr-defined]
    return {"rows": written, "backend": engine.dialect.name}


def baseline(state: dict[str, Any]) -> dict[str, Any]:
    engine = state["engine"]
    if engine.dialect.name == "postgresql":
        return _copy_csv(state)
    return _sqlite_executemany(state)


def _copy_csv(state: dict[str, Any]) -> dict[str, Any]:
    import psycopg

    url = sa.engine.make_url(state["ctx"]["urls"]["postgresql"])
    written = 0
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database) as conn:
        with conn.cursor() as cursor:
            for table, frame in (("estimate", state["estimates"]), ("flag", state["flags"])):
                columns = ", ".join(f'"{c}"' for c in frame.columns)
                with cursor.copy(f'COPY "{table}" ({columns}) FROM STDIN (FORMAT csv)') as copy:
                    for start in range(0, frame.height, 200_000):
                        copy.write(frame.slice(start, 200_000).write_csv(include_header=False))
                written += frame.height
        conn.commit()
    return {"rows": written, "backend": "postgresql"}


def _sqlite_executemany(state: dict[str, Any]) -> dict[str, Any]:
    path = sa.engine.make_url(state["ctx"]["urls"]["sqlite"]).database
    assert path is not None  # a file URL, made by prepare
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    written = 0
    with conn:
        for table, frame in (("estimate", state["estimates"]), ("flag", state["flags"])):
            columns = ", ".join(f'"{c}"' for c in frame.columns)
            marks = ", ".join("?" for _ in frame.columns)
            rows = frame.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%d %H:%M:%S.%6f"),
                                      pl.col(pl.Date).dt.to_string("%Y-%m-%d")).iter_rows()
            conn.executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', rows)
            written += frame.height
    conn.close()
    return {"rows": written, "backend": "sqlite"}


def pipeline(state: dict[str, Any]) -> dict[str, Any]:
    from sqlmodel import Session

    from tracker.registry.estimates import write_estimates as _write_estimates
    from tracker.registry.flags import write_flags as _write_flags

    with Session(state["engine"]) as session:
        estimates = _write_estimates(session, state["result"])
        flags = _write_flags(session, state["result"])
        session.commit()
    return {"rows": estimates + flags, "estimates": estimates, "flags": flags}


def run(scales: list[int], log: Any = print) -> dict[str, Any]:
    postgres = common.pg_available()
    runs: list[dict[str, Any]] = []
    sqlite_runs: list[dict[str, Any]] = []
    try:
        for scale in scales:
            size = BASE_SIZE * scale
            log(f"{NAME}: x{scale} = {size:,} rows")
            ctx = prepare(size, postgres)
            for backend, into in (("postgresql", runs), ("sqlite", sqlite_runs)):
                if backend not in ctx["urls"]:
                    continue
                log(f" {backend}")
                bctx = {**ctx, "backend": backend}
                reps = REPETITIONS[scale] if backend == "postgresql" else SQLITE_REPETITIONS[scale]
                entry = common.compare_runs(MODULE, bctx, reps, size=size, scale=scale, log=log)
                entry["backend"] = backend
                piped = [common.measure(MODULE, "pipeline", {**bctx, "pipeline": True})
                         for _ in range(PIPELINE_REPETITIONS[scale])]
                entry["pipeline_writers_seconds_median"] = round(common.median(p.seconds for p in piped), 4)
                entry["pipeline_writers_rows"] = piped[0].extra["rows"]
                entry["pipeline_writers_peak_rss_mb"] = max(p.peak_rss_mb for p in piped)
                log(f"  pipeline writers: {entry['pipeline_writers_rows']:,} rows in "
                    f"{entry['pipeline_writers_seconds_median']:.3f} s")
                into.append(entry)
    finally:
        if postgres:
            common.pg_drop(PG_DATABASE)
        common.clean_work_dir(NAME)
    primary = runs or sqlite_runs
    for entry in primary:
        entry["meets_target"] = entry["ratio"] is not None and entry["ratio"] <= TARGET_RATIO
    meets = bool(runs) and runs[-1]["meets_target"]
    common.write_result(
        NAME, primary, TARGET_RATIO, meets, backend="postgresql" if runs else "sqlite",
        target="ratio <= 1.5 on PostgreSQL (vs psycopg COPY of the same rows) at 1,000,000 rows",
        sqlite_runs=sqlite_runs,
        notes=(f"size = rows written, half estimate and half flag rows (x1 = {BASE_SIZE:,}); tables emptied "
               "before each repetition, indexes kept; runs[] are PostgreSQL, sqlite_runs[] SQLite "
               "(baseline: sqlite3 executemany); repetitions per size (PostgreSQL / SQLite / pipeline writers): "
               + ", ".join(f"x{s}: {REPETITIONS[s]}/{SQLITE_REPETITIONS[s]}/{PIPELINE_REPETITIONS[s]}"
                           for s in scales)
               + "; pipeline_writers_* time _write_estimates + _write_flags on a RegistryResult of about "
                 "the same row count, into empty tables."),
    )
    return {"name": NAME, "runs": primary, "meets_target": meets}
