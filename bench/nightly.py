"""nightly: the whole nightly job, ``run_evaluation``, on a registry of N filed systems in PostgreSQL.

Ours is what the scheduler runs each night, a first evaluation (nothing evaluated before): read the
filed records, re-estimate and evaluate every system, then in one transaction write the estimates,
flags, flag history, audit entries, registrations opened by crossings, discrepancies, alerts and
their deliveries (the outbox) and the per-system summaries.

The baseline is the floor of that write: a bare psycopg ``COPY ... FROM STDIN (FORMAT csv)`` of the
very rows ours wrote (same tables, same indexes and constraints, one transaction), dumped from the
database after ours's first repetition. Nothing is read, computed or compared.

Each measurement starts from the same filed registry: a template database (``tracker_bench_nightly_filed``)
is filled once per size, untimed, and cloned into ``tracker_bench_nightly`` before every run.
``details`` carry the summary line, the client's CPU seconds and the PostgreSQL backends' CPU seconds
(read from ``/proc``): on a shared machine wall time waits for the CPU, these do not.

The target is absolute: a first evaluation of 1,000,000 systems in under 10 minutes.
"""

from __future__ import annotations

import os
import resource
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench import common, generate

NAME = "nightly"
BASE_SIZE = 10_000  # systems at x1; x100 = 1,000,000
TARGET_SECONDS = 600.0
REPETITIONS = {1: 3, 10: 2, 100: 1}
MODULE = "bench.nightly"
DATABASE = "tracker_bench_nightly"
TEMPLATE = "tracker_bench_nightly_filed"
_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def prepare(size: int, reuse: bool = False) -> dict[str, Any]:
    """The filed registry as a template database, and the row counts evaluation must not touch.

    With ``reuse``, a template left by an earlier run (``--keep-template``) holding the same number of
    systems is used as it is: at 1,000,000 systems the filing takes tens of minutes."""
    import sqlalchemy as sa

    if reuse and template_systems() == size:
        url = common.pg_url(TEMPLATE)
    else:
        url = common.pg_create(TEMPLATE)
        generate.populate_registry(url, size, generate.AS_OF, evaluate="none")
        common._pg_admin(f"COMMENT ON DATABASE \"{TEMPLATE}\" IS 'filed systems: {size}'")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        filed = {table: _extent(conn, table) for table in _tables()}
    engine.dispose()
    dump = common.work_dir(NAME) / f"n{size}"
    dump.mkdir(exist_ok=True)
    for old in dump.glob("*.csv"):
        old.unlink()
    return {"size": size, "as_of": generate.AS_OF.isoformat(), "dump_dir": str(dump), "filed": filed}


def template_systems() -> int | None:
    """How many systems the template database holds (its comment), or None when there is none."""
    import sqlalchemy as sa

    engine = sa.create_engine(common.PG_ADMIN_URL)
    with engine.connect() as conn:
        comment = conn.execute(sa.text(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = :name"),
            {"name": TEMPLATE}).scalar()
    engine.dispose()
    prefix = "filed systems: "
    if not isinstance(comment, str) or not comment.startswith(prefix):
        return None
    return int(comment.removeprefix(prefix))


def _tables() -> list[str]:
    from sqlmodel import SQLModel

    import tracker.store.models  # noqa: F401  (registers every table)

    return [table.name for table in SQLModel.metadata.sorted_tables]


def _extent(conn: Any, table: str) -> list[int]:
    """[row count, largest id] of a table (id 0 when it has no integer id)."""
    import sqlalchemy as sa

    count = int(conn.execute(sa.text(f'SELECT count(*) FROM "{table}"')).scalar_one())
    has_id = conn.execute(sa.text(
        "SELECT 1 FROM information_schema.columns WHERE table_name = :t AND column_name = 'id' "
        "AND data_type IN ('integer', 'bigint')"), {"t": table}).first()
    top = conn.execute(sa.text(f'SELECT coalesce(max(id), 0) FROM "{table}"')).scalar_one() if has_id else 0
    return [count, int(top)]


def _fresh_database() -> str:
    common.pg_drop(DATABASE)
    common._pg_admin(f'CREATE DATABASE "{DATABASE}" TEMPLATE "{TEMPLATE}"')
    return common.pg_url(DATABASE)


def setup(ctx: dict[str, Any]) -> dict[str, Any]:
    url = _fresh_database()
    dumped = sorted(Path(ctx["dump_dir"]).glob("*.csv"))
    # The baseline's rows are read into memory here, untimed: it times the COPY alone.
    copies = [(path.stem.split("-", 1)[1], path.read_bytes()) for path in dumped]
    return {"url": url, "ctx": ctx, "copies": copies}


def ours(state: dict[str, Any]) -> dict[str, Any]:
    from tracker.registry.pipeline import run_evaluation
    from tracker.store.db import make_engine

    engine = make_engine(state["url"])
    client, server = _client_cpu_s(), _server_cpu_s()
    summary = run_evaluation(engine, date.fromisoformat(state["ctx"]["as_of"]), actor="bench")
    # The pool keeps its connections (and their backends) until dispose(): read them first.
    details = {"summary": summary.line(), "client_cpu_s": round(_client_cpu_s() - client, 1),
               "server_cpu_s": round(_server_cpu_s() - server, 1), "alerts": summary.alerts,
               "flags": summary.flags_written, "estimates": summary.estimates_written,
               "events": summary.transitions, "obligations_opened": summary.obligations_opened}
    engine.dispose()
    state["ran"] = True
    return details


def baseline(state: dict[str, Any]) -> dict[str, Any]:
    import psycopg
    import sqlalchemy as sa

    if not state["copies"]:
        raise RuntimeError("no rows dumped: the baseline copies what ours wrote, so ours runs first")
    url = sa.engine.make_url(state["url"])
    rows = 0
    client, server = _client_cpu_s(), _server_cpu_s()
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database) as conn:
        with conn.cursor() as cursor:
            for name, text in state["copies"]:
                header, body = text.split(b"\n", 1)
                with cursor.copy(f'COPY "{name}" ({header.decode()}) FROM STDIN (FORMAT csv)') as copy:
                    copy.write(body)
                rows += body.count(b"\n")
        conn.commit()
        server_cpu_s = _server_cpu_s() - server  # read while the backend still exists
    return {"rows": rows, "tables": len(state["copies"]), "client_cpu_s": round(_client_cpu_s() - client, 1),
            "server_cpu_s": round(server_cpu_s, 1)}


def teardown(state: dict[str, Any]) -> None:
    """After ours's first run: dump every row it wrote, table by table in foreign-key order."""
    if state.get("ran") and not state["copies"]:
        _dump_written(state["url"], state["ctx"])
    common.pg_drop(DATABASE)


def _dump_written(url: str, ctx: dict[str, Any]) -> None:
    import psycopg
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    target = Path(ctx["dump_dir"])
    with engine.connect() as conn:
        grown = []
        for table in _tables():
            count, _ = _extent(conn, table)
            filed_count, filed_top = ctx["filed"][table]
            if count == filed_count:
                continue
            if filed_count and not filed_top:
                raise RuntimeError(f"{table}: rows added to a filed table without an id; cannot tell them apart")
            columns = [c for c in conn.execute(sa.text(f'SELECT * FROM "{table}" LIMIT 0')).keys()]
            grown.append((table, columns, filed_top))
    engine.dispose()
    plain = sa.engine.make_url(url)
    with psycopg.connect(host=plain.host, port=plain.port, user=plain.username, dbname=plain.database) as conn:
        with conn.cursor() as cursor:
            for position, (table, columns, filed_top) in enumerate(grown):
                listed = ", ".join(f'"{c}"' for c in columns)
                where = f" WHERE id > {filed_top}" if filed_top else ""
                with (target / f"{position:02d}-{table}.csv").open("wb") as out:
                    out.write(listed.encode() + b"\n")
                    query = f'COPY (SELECT {listed} FROM "{table}"{where} ORDER BY 1) TO STDOUT (FORMAT csv)'
                    with cursor.copy(query) as copy:
                        for block in copy:
                            out.write(block)


# The nightly's steps, as ``--steps`` times them: (module the pipeline calls them through, names).
STEPS = (("tracker.registry.pipeline", ("load_inputs", "compute_registry", "write_estimates", "write_flags",
                                        "open_obligations", "write_transitions", "record_discrepancies",
                                        "alert_open_discrepancies", "alert_set_aside")),
         ("tracker.registry.flags", ("refresh_system_status", "enqueue_flag_alerts")))


def time_steps(log: Any = print) -> list[dict[str, Any]]:
    """Wrap each of ``STEPS`` so that each call is logged with its wall, client and server CPU seconds
    and the process's resident and peak memory after it; returns the list the records go to."""
    import functools
    import importlib

    records: list[dict[str, Any]] = []

    def wrap(name: str, func: Any) -> Any:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, client, server = time.perf_counter(), _client_cpu_s(), _server_cpu_s()
            out = func(*args, **kwargs)
            record = {"step": name, "wall_s": round(time.perf_counter() - wall, 1),
                      "client_cpu_s": round(_client_cpu_s() - client, 1),
                      "server_cpu_s": round(_server_cpu_s() - server, 1),
                      "rss_mb": _memory_mb("VmRSS"), "peak_rss_mb": _memory_mb("VmHWM")}
            records.append(record)
            log(f"  step {name}: {record}")
            return out
        return timed

    for module_name, names in STEPS:
        module = importlib.import_module(module_name)
        for name in names:
            setattr(module, name, wrap(name, getattr(module, name)))
    return records


def _memory_mb(field: str) -> int:
    """A ``/proc/self/status`` memory figure (VmRSS: resident now, VmHWM: peak) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) // 1024
    return 0


def _client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _server_cpu_s() -> float:
    """CPU seconds of the PostgreSQL backends serving the benchmark database (same machine only)."""
    total = 0.0
    marker = f" {DATABASE} ".encode()
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            # Client backends only: an autovacuum worker on the database is not the run's work.
            if not command.startswith(b"postgres") or marker not in command or b"autovacuum" in command:
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / _TICKS_PER_S
        except OSError:
            continue
    return total


def run(scales: list[int], log: Any = print) -> dict[str, Any]:
    if not common.pg_available():
        raise RuntimeError(f"PostgreSQL is needed at {common.PG_ADMIN_URL}")
    runs: list[dict[str, Any]] = []
    try:
        for scale in scales:
            size = BASE_SIZE * scale
            log(f"{NAME}: x{scale} = {size:,} systems")
            started = time.perf_counter()
            ctx = prepare(size)
            log(f"  filed in {time.perf_counter() - started:.0f} s (untimed)")
            samples: dict[str, list[common.Sample]] = {"ours": [], "baseline": []}
            for rep in range(REPETITIONS[scale]):
                # Ours first on the first repetition: the baseline copies the rows it wrote.
                for variant in ("ours", "baseline") if rep % 2 == 0 else ("baseline", "ours"):
                    sample = common.measure(MODULE, variant, ctx)
                    samples[variant].append(sample)
                    cpu = f"cpu {sample.extra.get('client_cpu_s')} s + server {sample.extra.get('server_cpu_s')} s"
                    log(f"  x{scale} rep {rep + 1}/{REPETITIONS[scale]} {variant:9s} {sample.seconds:8.1f} s  "
                        f"{cpu}  peak {sample.peak_rss_mb:6.0f} MB")
            entry = common.summarise(samples["ours"], samples["baseline"], size=size, scale=scale)
            entry["meets_target"] = entry["seconds_median"] <= TARGET_SECONDS
            entry["table_notes"] = [samples["ours"][-1].extra.get("summary", "")]
            runs.append(entry)
    finally:
        common.pg_drop(DATABASE)
        common.pg_drop(TEMPLATE)
        common.clean_work_dir(NAME)
    largest = runs[-1]
    meets = largest["size"] >= 1_000_000 and largest["meets_target"]
    common.write_result(
        NAME, runs, None, meets, target_seconds=TARGET_SECONDS,
        target="a first run_evaluation of 1,000,000 systems on PostgreSQL in under 600 s",
        growth_per_system=common.growth(runs),
        notes=(f"size = systems (x1 = {BASE_SIZE:,}), filed by bench.generate.populate_registry; ours = "
               "run_evaluation, a first evaluation, on a fresh clone of the filed registry; baseline = psycopg "
               "COPY (FORMAT csv) of exactly the rows ours wrote, into the same tables of a fresh clone; "
               "ratio is informational, the target is absolute (meets_target only at 1,000,000 systems); "
               "details: client_cpu_s (the Python process) and server_cpu_s (its PostgreSQL backends); "
               "repetitions per size: " + ", ".join(f"x{s}: {REPETITIONS[s]}" for s in scales) + "."),
    )
    return {"name": NAME, "runs": runs, "meets_target": meets}


def main() -> None:
    """``python -m bench.nightly [--systems N]``: one timed run of the nightly job, no baseline."""
    import argparse

    parser = argparse.ArgumentParser(description="one run_evaluation on a generated registry (PostgreSQL)")
    parser.add_argument("--systems", type=int, default=100_000)
    parser.add_argument("--reuse-template", action="store_true",
                        help=f"use {TEMPLATE} as it is when it holds --systems systems")
    parser.add_argument("--keep-template", action="store_true", help=f"leave {TEMPLATE} for the next run")
    parser.add_argument("--fill-only", action="store_true", help="fill the template and stop (implies --keep-template)")
    parser.add_argument("--steps", action="store_true", help="log each step's wall and CPU seconds and memory")
    args = parser.parse_args()
    keep = args.keep_template or args.fill_only
    try:
        started = time.perf_counter()
        ctx = prepare(args.systems, reuse=args.reuse_template)
        print(f"template of {args.systems:,} systems ready in {time.perf_counter() - started:.0f} s", flush=True)
        if args.fill_only:
            return
        state = setup(ctx)
        if args.steps:
            time_steps(lambda line: print(line, flush=True))
        started = time.perf_counter()
        details = ours(state)
        print(f"run_evaluation: {time.perf_counter() - started:.1f} s; {details}; "
              f"peak RSS {_memory_mb('VmHWM')} MB", flush=True)
    finally:
        common.pg_drop(DATABASE)
        if not keep:
            common.pg_drop(TEMPLATE)
        common.clean_work_dir(NAME)


if __name__ == "__main__":
    main()
