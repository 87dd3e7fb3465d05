"""`python -m bench.deployment`: the 50-client load against a small deployment and against one
process of each, side by side (docs/deployment.md, "Measured on one machine").

A deployment here is N `tracker serve` processes (``--web``), M `tracker worker` processes
(``--workers``, 0 for none) and, with ``--replica``, a streaming read replica of PostgreSQL on port
5434 (``pg_basebackup``; the web processes get ``TRACKER_DATABASE_REPLICA_URL``), all on one
PostgreSQL database created and dropped here (``tracker_bench_deployment``). Each part is
optional, so the web-only comparison runs wherever `tracker serve` does.

The load is tests/reliability/test_load.py's client: 50 clients, five per provider, each signed in
as its provider's user, filing a distinct training-run disclosure, re-filing its first one every
fourth round, and browsing (/, /systems, /alerts, /login and a grid callback). There is no proxy
process: each client sends each request to the next web process in turn (what a round-robin
proxy without sticky sessions does), so the session, the CSRF token and the attempt limits must
hold across processes. Beside it one more client streams inference-usage filings for its own
provider as fast as they are answered. Both configurations run on a fresh database, the baseline
first (1 web process, 1 worker when ``--workers`` > 0, no replica).

Writes bench/results/deployment.json: per configuration the throughput, latency percentiles per
operation, the usage stream's rate and p95, and each process's CPU seconds and peak memory (so
the reader sees where the two cores went).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import common

NAME = "deployment"
PG_DATABASE = "tracker_bench_deployment"
REPLICA_PORT = 5434
USAGE_PROVIDER = "usage-stream"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Layout:
    """One configuration: web processes, worker processes, a read replica or not."""

    web: int
    workers: int
    replica: bool

    @property
    def label(self) -> str:
        return f"{self.web} web, {self.workers} worker{'s' if self.workers != 1 else ''}" + \
            (", replica" if self.replica else "")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on the machine (primary and replica, and any other
    database's backends: on a shared machine an upper bound of ours)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("postgres", "postmaster"):
                    total += cpu_seconds(int(entry.name))
            except OSError:
                continue
    return total


# --- the read replica ----------------------------------------------------------------------------


def _as_postgres(*command: str) -> None:
    subprocess.run(["runuser", "-u", "postgres", "--", *command], check=True, capture_output=True, timeout=600)


def _primary_settings(admin_url: str) -> dict[str, str]:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url)
    names = ("hba_file", "data_directory", "max_connections", "max_worker_processes", "max_wal_senders",
             "max_prepared_transactions", "max_locks_per_transaction")
    with engine.connect() as conn:
        values = {n: str(conn.execute(sa.text(f"SHOW {n}")).scalar_one()) for n in names}
    engine.dispose()
    return values


def _allow_replication(admin_url: str, hba_file: str) -> None:
    """Let a local replication connection in (trust, loopback only), as a streaming standby needs."""
    import sqlalchemy as sa

    rule = "host replication all 127.0.0.1/32 trust"
    text = Path(hba_file).read_text()
    if not any(line.split() == rule.split() for line in text.splitlines()):
        Path(hba_file).write_text(text.rstrip("\n") + "\n" + rule + "\n")
        engine = sa.create_engine(admin_url)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_reload_conf()"))
        engine.dispose()


@contextmanager
def read_replica(admin_url: str, port: int = REPLICA_PORT) -> Iterator[str]:
    """A hot standby of the local cluster on ``port``, streaming from the primary; removed on exit.
    Yields its admin URL (database ``postgres``)."""
    primary = _primary_settings(admin_url)
    _allow_replication(admin_url, primary["hba_file"])
    bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    home = Path(tempfile.mkdtemp(prefix="tracker-replica-"))
    data = home / "data"
    shutil.chown(home, "postgres", "postgres")
    started = False
    try:
        _as_postgres(f"{bindir}/pg_basebackup", "-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "-D", str(data),
                     "-R", "-X", "stream", "-c", "fast")
        # Debian keeps the primary's configuration outside its data directory: the standby gets its
        # own, with the settings a standby must hold at least as high as its primary.
        conf = [f"port = {port}", "listen_addresses = '127.0.0.1'", f"unix_socket_directories = '{home}'",
                "hot_standby = on", "shared_buffers = 128MB", "logging_collector = off",
                *(f"{n} = {primary[n]}" for n in ("max_connections", "max_worker_processes", "max_wal_senders",
                                                  "max_prepared_transactions", "max_locks_per_transaction"))]
        (data / "postgresql.conf").write_text("\n".join(conf) + "\n")
        (data / "pg_hba.conf").write_text("local all all trust\nhost all all 127.0.0.1/32 trust\n")
        for name in ("postgresql.conf", "pg_hba.conf"):
            shutil.chown(data / name, "postgres", "postgres")
        _as_postgres(f"{bindir}/pg_ctl", "-D", str(data), "-l", str(home / "replica.log"), "-w", "start")
        started = True
        yield admin_url.rsplit("@", 1)[0] + f"@127.0.0.1:{port}/postgres"
    finally:
        if started:
            _as_postgres(f"{bindir}/pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(home, ignore_errors=True)


def replica_lag_s(replica_admin_url: str) -> float | None:
    import sqlalchemy as sa

    engine = sa.create_engine(replica_admin_url)
    with engine.connect() as conn:
        lag = conn.execute(sa.text("SELECT EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())")).scalar()
    engine.dispose()
    return None if lag is None else round(float(lag), 3)


# --- processes -----------------------------------------------------------------------------------


@contextmanager
def workers(count: int, db_url: str, runtime: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    from tests.reliability.helpers import ROOT, server_env

    procs: list[subprocess.Popen[bytes]] = []
    try:
        for n in range(count):
            log = (runtime / f"worker-{n}.log").open("wb")
            procs.append(subprocess.Popen([sys.executable, "-m", "tracker", "worker"], cwd=ROOT,
                                          env=server_env(db_url, runtime), stdout=log, stderr=subprocess.STDOUT))
        time.sleep(1.0)
        for proc in procs:
            if proc.poll() is not None:
                raise RuntimeError(f"tracker worker exited with {proc.returncode}: see {runtime}")
        yield procs
    finally:
        for proc in procs:
            common.stop_process(proc)


# --- the load --------------------------------------------------------------------------------------


def _rotating_work(client: Any, bases: list[str], deadline: list[float], start: threading.Barrier) -> None:
    """test_load's client loop, each request to the next process in turn (no sticky sessions)."""
    import requests

    from tests.reliability.helpers import callback_body, sign_in
    from tests.reliability.test_load import GRID, _content, _post, _timed

    turn = [client.number]

    def base() -> str:
        turn[0] += 1
        return bases[turn[0] % len(bases)]

    auth = {"Authorization": f"Bearer {client.token}"}
    with requests.Session() as http:
        try:  # fifty argon2 checks at once on a busy machine can outlast a timeout: a failure, not a crash
            signed_in = sign_in(http, base(), f"{client.provider}-user").status_code == 302
        except requests.RequestException as exc:
            signed_in = False
            client.failures.append(f"sign-in: {type(exc).__name__}")
        start.wait(timeout=600)  # everybody waits here, signed in or not, so nobody blocks the others
        if not signed_in:
            if not client.failures:
                client.failures.append("sign-in refused")
            return
        grid = callback_body(GRID, [{"id": "systems-grid", "property": "getRowsRequest",
                                     "value": {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}}])
        first = _content(client, 1)
        n = 0
        while time.monotonic() < deadline[0]:
            n += 1
            content = _content(client, n)
            filed = _timed(client, "file", _post, http, base(), auth, content)
            if filed is not None and filed.status_code in (201, 202):
                client.filed[hashlib.sha256(content).hexdigest()] = filed.json().get("accession", "")
            elif filed is not None:
                client.failures.append(f"file: {filed.status_code} {filed.text[:200]}")
            if n % 4 == 2 and client.filed:
                _timed(client, "refile", _post, http, base(), auth, first)
            for path in ("/", "/systems", "/alerts"):
                _timed(client, f"GET {path}", http.get, f"{base()}{path}", timeout=120)
            _timed(client, "GET /login", http.get, f"{base()}/login", allow_redirects=False, timeout=120)
            target = base()
            _timed(client, "grid callback", http.post, f"{target}/_dash-update-component", json=grid,
                   headers={"Origin": target}, timeout=120)


def _usage_content(n: int) -> bytes:
    day = n % 28 + 1
    month = n // 28 % 12 + 1
    year = 2020 + n // 336
    when = f"{year}-{month:02d}-{day:02d}"
    return (f"system,period_start,period_end,input_tokens,output_tokens\n"
            f"stream-lm,{when},{when},{1e9 + n:.0f},{2e8 + n:.0f}\n").encode()


def _usage_stream(client: Any, bases: list[str], deadline: list[float], start: threading.Barrier) -> None:
    import requests

    from tests.reliability.test_load import _timed

    start.wait(timeout=600)
    auth = {"Authorization": f"Bearer {client.token}"}
    n = 0
    with requests.Session() as http:
        while time.monotonic() < deadline[0]:
            n += 1
            answer = _timed(client, "usage filing", http.post, f"{bases[n % len(bases)]}/api/v1/disclosures",
                            headers=auth, data={"kind": "inference_usage"},
                            files={"file": ("usage.csv", _usage_content(n))}, timeout=120)
            if answer is not None and answer.status_code not in (200, 201, 202):
                client.failures.append(f"usage: {answer.status_code} {answer.text[:200]}")


def measure(layout: Layout, seconds: float, log: Any) -> dict[str, Any]:
    from tests.reliability.helpers import running_server, seed_accounts
    from tests.reliability.test_load import CLIENTS, PROVIDERS, UNLIMITED, Client, _report
    from tracker.store.db import make_engine

    url = common.pg_create(PG_DATABASE)
    common.create_schema(url)
    engine = make_engine(url)
    providers = [f"load-{p:02d}" for p in range(PROVIDERS)]
    tokens = seed_accounts(engine, providers, tokens_per_provider=CLIENTS // PROVIDERS)
    usage_token = seed_accounts(engine, [USAGE_PROVIDER], regulator=None)[USAGE_PROVIDER][0]
    engine.dispose()
    clients = [Client(n, providers[n % PROVIDERS], tokens[providers[n % PROVIDERS]][n // PROVIDERS])
               for n in range(CLIENTS)]
    usage = Client(CLIENTS, USAGE_PROVIDER, usage_token)
    runtime = common.work_dir(NAME) / f"w{layout.web}-k{layout.workers}-r{int(layout.replica)}"
    result: dict[str, Any] = {"layout": layout.label, "web": layout.web, "workers": layout.workers,
                              "replica": layout.replica, "seconds": seconds}
    with ExitStack() as stack:
        env = dict(UNLIMITED)
        replica_admin = None
        if layout.replica:
            replica_admin = stack.enter_context(read_replica(common.PG_ADMIN_URL))
            env["TRACKER_DATABASE_REPLICA_URL"] = replica_admin.rsplit("/", 1)[0] + "/" + PG_DATABASE
        servers = [stack.enter_context(running_server(url, runtime / f"web-{n}", cli=True, **env))
                   for n in range(layout.web)]
        procs = stack.enter_context(workers(layout.workers, url, runtime))
        bases = [s.url for s in servers]
        start = threading.Barrier(CLIENTS + 2)
        deadline = [time.monotonic() + 3600]
        threads = [threading.Thread(target=_rotating_work, args=(c, bases, deadline, start), daemon=True)
                   for c in clients]
        threads.append(threading.Thread(target=_usage_stream, args=(usage, bases, deadline, start), daemon=True))
        for thread in threads:
            thread.start()
        start.wait(timeout=600)
        pids = {f"web-{n}": s.pid for n, s in enumerate(servers)} | {f"worker-{n}": p.pid for n, p in enumerate(procs)}
        cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"postgres": postgres_cpu_seconds()}
        load_before = os.getloadavg()
        began = time.monotonic()
        deadline[0] = began + seconds
        for thread in threads:
            thread.join(timeout=seconds + 300)
        elapsed = time.monotonic() - began
        cpu_after = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"postgres": postgres_cpu_seconds()}
        result["processes"] = {name: {"cpu_s": round(cpu_after[name] - cpu_before[name], 1),
                                      "peak_rss_mib": round(_peak_mib(pid), 1)} for name, pid in pids.items()}
        result["postgres_cpu_s"] = round(cpu_after["postgres"] - cpu_before["postgres"], 1)
        result["load_average"] = {"before": round(load_before[0], 2), "after": round(os.getloadavg()[0], 2)}
        if replica_admin is not None:
            result["replica_lag_s_at_end"] = replica_lag_s(replica_admin)
        for server in servers:
            if "Traceback" in server.stderr():
                result.setdefault("server_tracebacks", []).append(server.stderr()[-2000:])
    result["load"] = _report(clients, elapsed, {})
    usage_s = [s for _, status, s in usage.samples if status < 400]
    result["usage_stream"] = {"filings": len(usage_s), "per_s": round(len(usage_s) / elapsed, 2),
                              "p50_ms": round(1000 * common.median(usage_s), 1) if usage_s else None,
                              "p95_ms": round(1000 * common.percentile(usage_s, 95), 1) if usage_s else None}
    result["failures"] = [f for c in [*clients, usage] for f in c.failures][:20]
    load, stream = result["load"], result["usage_stream"]
    log(f"  {layout.label}: {load['throughput_rps']} req/s, p95 {load['latency_ms']['p95']} ms; usage filings "
        f"{stream['per_s']}/s p95 {stream['p95_ms']} ms; failures {len(result['failures'])}")
    common.pg_drop(PG_DATABASE)
    return result


def _peak_mib(pid: int) -> float:
    from tests.reliability.helpers import proc_status_mib

    try:
        return proc_status_mib(pid, "VmHWM")
    except (OSError, LookupError):
        return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--web", type=int, default=2, help="web processes of the deployment (default 2)")
    parser.add_argument("--workers", type=int, default=0, help="tracker worker processes (default 0: none)")
    parser.add_argument("--replica", action="store_true", help="a streaming read replica on port 5434")
    parser.add_argument("--seconds", type=float, default=60.0, help="load duration per configuration")
    parser.add_argument("--skip-baseline", action="store_true", help="measure the deployment only")
    parser.add_argument("--rounds", type=int, default=1,
                        help="alternate baseline and deployment this many times (load from others falls on both)")
    args = parser.parse_args()
    if not common.pg_available():
        raise SystemExit("PostgreSQL is not reachable at " + common.PG_ADMIN_URL)
    if args.replica:
        from tracker.config import Settings

        if "database_replica_url" not in Settings.model_fields:
            raise SystemExit("--replica: this tracker does not read TRACKER_DATABASE_REPLICA_URL yet")
    if args.workers:
        probe = subprocess.run([sys.executable, "-m", "tracker", "worker", "--help"], capture_output=True)
        if probe.returncode != 0:
            raise SystemExit("--workers: `tracker worker` is not available in this tracker")
    layouts = [] if args.skip_baseline else [Layout(1, min(args.workers, 1), False)]
    layouts.append(Layout(args.web, args.workers, args.replica))
    runs = []
    try:
        for round_number in range(1, args.rounds + 1):
            for layout in layouts:
                print(f"{NAME}: round {round_number}, {layout.label}, {args.seconds:.0f} s", flush=True)
                runs.append(measure(layout, args.seconds, print) | {"round": round_number})
    finally:
        common.pg_drop(PG_DATABASE)
        common.clean_work_dir(NAME)
    summary = {}
    for layout in layouts:
        mine = [r for r in runs if r["layout"] == layout.label]
        summary[layout.label] = {
            "throughput_rps_median": common.median(r["load"]["throughput_rps"] for r in mine),
            "p95_ms_median": common.median(r["load"]["latency_ms"]["p95"] for r in mine),
            "usage_filings_per_s_median": common.median(r["usage_stream"]["per_s"] for r in mine),
            "usage_p95_ms_median": common.median(r["usage_stream"]["p95_ms"] or 0.0 for r in mine)}
    print(json.dumps(summary, indent=2))
    path = common.write_result(
        NAME, runs, None, all(not r["failures"] for r in runs), summary=summary,
        notes=("load = tests/reliability/test_load.py's 50 clients, each request to the next web process in turn; "
               "usage_stream = one more client filing inference_usage as fast as answered; processes.cpu_s = CPU "
               "seconds each process used during the load; meets_target = no failed request in any configuration "
               "(throughput has no target: on 2 cores more processes share the same CPU)"),
        command=" ".join(["python -m bench.deployment", *sys.argv[1:]]))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
