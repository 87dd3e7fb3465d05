"""dashboard: the overview and a systems-grid page over real HTTP, N systems in PostgreSQL.

Set-up per size: a PostgreSQL database filled by ``generate.populate_registry(evaluate="writers")``
(systems, filed runs, usage, clusters; estimates and ~13 flags per system written by the pipeline's
own writers, which also rebuild the views' summaries ``system_status`` and ``system_crossing``;
flag_change alerts bulk-inserted: ``run_evaluation`` itself takes minutes at 100,000 systems, see
bench/README.md), a regulator account, and the production server (``tracker serve``: waitress) in a
subprocess. The client signs in through ``/login`` (CSRF token, session cookie) and sends what the
browser sends:

* overview: the page-content callback for ``/`` (the layout: providers and regimes for the filters)
  followed by the overview ``refresh`` callback (counts, the compute scatter, threshold lines and the
  inference series). Requests cycle through the regime filter (no regime, then each in-force regime),
  so the first pass misses the 30 s cache and the second may hit it: ``cold_cache`` summarises the
  first request for each regime (all misses), the headline figures all requests.
* grid page: the POST to ``/_dash-update-component`` that the AG Grid infinite row model makes
  (``getRowsRequest``: 100 rows), cycling first page, a deep page, a sort by training compute, a
  status filter and a name filter.

The baseline runs the same ``tracker.store.queries`` functions directly, in this process, with the
same arguments. Targets are absolute, judged at the largest size run: p95 < 500 ms for the
overview, < 100 ms for a grid page.

``make bench`` runs x1, x10 and x100. The registry-scale size, x1000 (1,000,000 systems), runs on
its own: ``python -m bench.dashboard --scale 1000 --keep`` builds the registry once (about half an
hour on 2 cores) in ``tracker_bench_dashboard_x1000`` and keeps it; later runs with ``--reuse``
measure against it without building again. Results of sizes not measured in a run are kept from
the previous results file (each run records when and at which commit it was measured).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import common, generate

NAME = "dashboard"
BASE_SIZE = 1_000  # systems at x1; x100 = 100,000
OVERVIEW_TARGET_MS = 500.0
GRID_TARGET_MS = 100.0
REQUESTS = {"overview": 20, "grid": 40}
PG_DATABASE = "tracker_bench_dashboard"
USERNAME = "bench-regulator"
PASSWORD = "bench regulator passphrase 2026"
BLOCK = 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _grid_requests(total: int) -> list[dict[str, Any]]:
    deep = max(0, total - 5 * BLOCK)
    variants = [
        {"startRow": 0, "endRow": BLOCK, "sortModel": [], "filterModel": {}},
        {"startRow": deep // 2 // BLOCK * BLOCK, "endRow": deep // 2 // BLOCK * BLOCK + BLOCK, "sortModel": [],
         "filterModel": {}},
        {"startRow": 0, "endRow": BLOCK, "sortModel": [{"colId": "training_flop", "sort": "desc"}], "filterModel": {}},
        {"startRow": BLOCK, "endRow": 2 * BLOCK, "sortModel": [],
         "filterModel": {"status": {"filterType": "text", "type": "equals", "filter": "above"}}},
        {"startRow": 0, "endRow": BLOCK, "sortModel": [{"colId": "name", "sort": "asc"}],
         "filterModel": {"name": {"filterType": "text", "type": "contains", "filter": "model-0001"}}},
    ]
    return [variants[i % len(variants)] for i in range(REQUESTS["grid"])]


class Client:
    """A signed-in browser session against the server: the Dash callbacks it would post."""

    def __init__(self, base: str) -> None:
        import requests

        self.base = base
        self.http = requests.Session()
        self.http.headers.update({"Origin": base, "Referer": base + "/"})
        form = self.http.get(base + "/login", timeout=30).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        if token is None:
            raise RuntimeError("no CSRF token on /login")
        response = self.http.post(base + "/login", data={"csrf_token": token.group(1), "username": USERNAME,
                                                         "password": PASSWORD, "next": "/"},
                                  allow_redirects=False, timeout=30)
        if response.status_code not in (302, 303):
            raise RuntimeError(f"sign-in failed: HTTP {response.status_code}")
        self.http.get(base + "/", timeout=60).raise_for_status()
        self.dependencies = self.http.get(base + "/_dash-dependencies", timeout=60).json()

    def _dependency(self, output_contains: str) -> dict[str, Any]:
        for dep in self.dependencies:
            if output_contains in dep["output"] and not dep.get("clientside_function"):
                return dep
        raise RuntimeError(f"no server callback with output {output_contains!r}")

    def callback(self, output_contains: str, values: dict[str, Any], changed: list[str]) -> tuple[float, Any]:
        dep = self._dependency(output_contains)
        out = dep["output"]
        if out.startswith(".."):
            outputs: Any = [dict(zip(("id", "property"), part.rsplit(".", 1), strict=True))
                            for part in out.strip(".").split("...")]
        else:
            outputs = dict(zip(("id", "property"), out.rsplit(".", 1), strict=True))

        def filled(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [{**item, "value": values.get(f"{item['id']}.{item['property']}")} for item in items]

        body = {"output": out, "outputs": outputs, "inputs": filled(dep["inputs"]), "state": filled(dep["state"]),
                "changedPropIds": changed}
        started = time.perf_counter()
        response = self.http.post(self.base + "/_dash-update-component", json=body, timeout=120)
        elapsed = time.perf_counter() - started
        if response.status_code not in (200, 204):
            raise RuntimeError(f"{output_contains}: HTTP {response.status_code}: {response.text[:300]}")
        return elapsed, response.json() if response.status_code == 200 else None

    def overview(self, regime_id: str | None) -> tuple[float, float]:
        layout_s, _ = self.callback("_pages_content", {"_pages_location.pathname": "/",
                                                       "_pages_location.search": ""},
                                    ["_pages_location.pathname"])
        refresh_s, _ = self.callback("ov-stats", {"ov-regime.value": regime_id}, ["ov-regime.value"])
        return layout_s, refresh_s

    def grid(self, request: dict[str, Any]) -> tuple[float, int]:
        elapsed, payload = self.callback("systems-grid.getRowsResponse", {"systems-grid.getRowsRequest": request},
                                         ["systems-grid.getRowsRequest"])
        rows = payload["response"]["systems-grid"]["getRowsResponse"]["rowData"]
        return elapsed, len(rows)


def _direct(url: str) -> tuple[Callable[[str | None], float], Callable[[dict[str, Any]], float]]:
    """The same queries without HTTP, Dash or the cache: (overview(regime), grid(request)) -> seconds."""
    from sqlmodel import Session, select

    from tracker.auth.users import scope_for
    from tracker.store import queries
    from tracker.store.db import make_engine
    from tracker.store.models import User

    engine = make_engine(url)
    with Session(engine) as session:
        scope = scope_for(session.exec(select(User).where(User.username == USERNAME)).one())

    def overview(regime_id: str | None) -> float:
        started = time.perf_counter()
        with Session(engine) as session:
            queries.list_providers(session, scope)
            queries.threshold_lines(session, scope)
        with Session(engine) as session:
            queries.compute_scatter_points(session, scope, queries.ScatterFilters(regime_id=regime_id), top_n=500)
            queries.threshold_lines(session, scope, regime_id=regime_id)
            queries.inference_series(session, scope, provider_ids=[])
            queries.overview_counts(session, scope, provider_ids=[], regime_id=regime_id)
        return time.perf_counter() - started

    def grid(request: dict[str, Any]) -> float:
        started = time.perf_counter()
        with Session(engine) as session:
            queries.systems_page(session, scope, request["startRow"], request["endRow"], request["sortModel"],
                                 request["filterModel"])
        return time.perf_counter() - started

    return overview, grid


def _start_server(directory: Path, url: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    port = _free_port()
    log_path = directory / "server.log"
    env = {**os.environ, "TRACKER_DATABASE_URL": url, "TRACKER_SECRET_KEY": "bench-secret-key-0123456789abcdef",
           "TRACKER_BASE_URL": f"http://127.0.0.1:{port}"}
    tracker = Path(os.sys.executable).with_name("tracker")  # type: ignore[attr-defined]
    proc = subprocess.Popen([str(tracker), "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=directory,
                            env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    import requests

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"tracker serve exited: {log_path.read_text()[-2000:]}")
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return proc, base, log_path
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"tracker serve did not answer: {log_path.read_text()[-2000:]}")


def _summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {"p50_ms": round(common.median(ms), 1), "p95_ms": round(common.percentile(ms, 95), 1),
            "max_ms": round(max(ms), 1)}


def _database_exists(name: str) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(common.PG_ADMIN_URL)
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
    engine.dispose()
    return found is not None


def _vacuum_analyze(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("VACUUM (ANALYZE)"))
    engine.dispose()


def _stamp() -> dict[str, str]:
    """When and at which commit a run was measured."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=common.PROJECT_ROOT, capture_output=True,
                            text=True).stdout.strip()
    return {"at": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit or "unknown"}


def kept_database(scale: int) -> str:
    """The database a kept registry of this scale lives in (``--keep``, ``--reuse``)."""
    return f"{PG_DATABASE}_x{scale}"


def _registry_counts(url: str) -> dict[str, object]:
    """What a kept registry holds (populate_registry's summary, read back)."""
    import sqlalchemy as sa

    from tracker.store.db import make_engine

    engine = make_engine(url)
    tables = {"systems": "ai_system", "runs": "training_run", "usage_rows": "inference_usage",
              "clusters": "compute_cluster", "providers": "provider", "flags": "flag", "estimates": "estimate",
              "alerts": "alert"}
    with engine.connect() as conn:
        counts: dict[str, object] = {k: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                                     for k, t in tables.items()}
    engine.dispose()
    return counts


def _registry(size: int, scale: int, log: Any, *, keep: bool, reuse: bool) -> str:
    """The URL of a populated registry of ``size`` systems with the benchmark's regulator account."""
    from sqlmodel import Session, select

    from tracker.auth.users import create_user
    from tracker.store.db import make_engine
    from tracker.store.models import User

    name = kept_database(scale) if keep or reuse else PG_DATABASE
    url = common.pg_url(name)
    if reuse and _database_exists(name):
        log(f"  reusing the registry in {name}")
    else:
        url = common.pg_create(name)
        t0 = time.monotonic()
        populated = generate.populate_registry(url, size, datetime.now(UTC).date(), evaluate="writers")
        log(f"  registry populated in {time.monotonic() - t0:.1f} s: {populated}")
        if keep or reuse:  # the planner's statistics and visibility map, as after autovacuum
            _vacuum_analyze(url)
    engine = make_engine(url)
    with Session(engine) as session:
        if session.exec(select(User).where(User.username == USERNAME)).first() is None:
            create_user(session, username=USERNAME, role="regulator", password=PASSWORD, actor="bench")
            session.commit()
    engine.dispose()
    return url


def measure_size(size: int, scale: int, log: Any, *, keep: bool = False, reuse: bool = False) -> list[dict[str, Any]]:
    from tracker.regimes.load import load_regimes

    directory = common.work_dir(NAME) / f"n{size}"
    directory.mkdir(parents=True, exist_ok=True)
    url = _registry(size, scale, log, keep=keep, reuse=reuse)
    populated = _registry_counts(url)
    today = datetime.now(UTC).date()
    in_force = [r.id for r in load_regimes() if r.phase_on(today) == "in_force"]
    regime_cycle: list[str | None] = [None, *in_force]
    overview_regimes = [regime_cycle[i % len(regime_cycle)] for i in range(REQUESTS["overview"])]
    grid_requests = _grid_requests(size)

    proc, base, _log_path = _start_server(directory, url)
    try:
        with common.PeakRss(proc.pid) as rss:
            client = Client(base)
            client.overview(None)  # warm-up: first import of page modules, connection pool
            client.grid(grid_requests[0])
            layouts, refreshes, overview_s, cold, grid_s = [], [], [], [], []
            seen: set[str | None] = set()
            for regime_id in overview_regimes:
                layout_s, refresh_s = client.overview(regime_id)
                layouts.append(layout_s)
                refreshes.append(refresh_s)
                overview_s.append(layout_s + refresh_s)
                if regime_id not in seen and regime_id is not None:
                    cold.append(layout_s + refresh_s)
                seen.add(regime_id)
            rows_seen = []
            for request in grid_requests:
                elapsed, rows = client.grid(request)
                grid_s.append(elapsed)
                rows_seen.append(rows)
    finally:
        common.stop_process(proc)
    peak = rss.mb
    direct_overview, direct_grid = _direct(url)
    direct_overview(None)
    base_overview = [direct_overview(r) for r in overview_regimes]
    base_grid = [direct_grid(r) for r in grid_requests]
    results = []
    for page, ours, baseline, limit in (("overview", overview_s, base_overview, OVERVIEW_TARGET_MS),
                                        ("grid", grid_s, base_grid, GRID_TARGET_MS)):
        p95 = common.percentile(ours, 95) * 1000
        entry: dict[str, Any] = {
            "size": size, "scale": scale, "page": page,
            "seconds_median": round(common.median(ours), 4),
            "baseline_seconds_median": round(common.median(baseline), 4),
            "ratio": round(common.median(ours) / common.median(baseline), 3),
            "peak_rss_mb": round(peak, 1),
            "p95_ms": round(p95, 1), "target_p95_ms": limit, "meets_target": p95 < limit,
            "http": _summary(ours), "direct": _summary(baseline), "requests": len(ours),
            "table_notes": [f"{page}: p95 {p95:.0f} ms (target < {limit:.0f}), direct p95 "
                            f"{common.percentile(baseline, 95) * 1000:.0f} ms"],
        }
        if page == "overview":
            entry["layout_callback"] = _summary(layouts)
            entry["refresh_callback"] = _summary(refreshes)
            entry["cold_cache"] = _summary(cold) if cold else None
        else:
            entry["rows_per_page"] = sorted(set(rows_seen))
        results.append(entry)
        log(f"  x{scale} {page}: http p50 {entry['http']['p50_ms']} ms p95 {entry['http']['p95_ms']} ms; "
            f"direct p50 {entry['direct']['p50_ms']} ms p95 {entry['direct']['p95_ms']} ms")
    for entry in results:
        entry["registry"] = populated
        entry["measured"] = _stamp()
    return results


def _earlier_runs(sizes: set[int]) -> list[dict[str, Any]]:
    """The previous results file's runs of sizes not measured now (kept, with their own stamp)."""
    path = common.RESULTS_DIR / f"{NAME}.json"
    try:
        earlier = json.loads(path.read_text())["runs"]
    except (OSError, ValueError, KeyError):
        return []
    return [r for r in earlier if r.get("size") not in sizes]


def run(scales: list[int], log: Any = print, *, keep: bool = False, reuse: bool = False) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    if not common.pg_available():
        raise RuntimeError("PostgreSQL is not reachable at " + common.PG_ADMIN_URL)
    try:
        for scale in scales:
            size = BASE_SIZE * scale
            log(f"{NAME}: x{scale} = {size:,} systems")
            runs.extend(measure_size(size, scale, log, keep=keep, reuse=reuse))
    finally:
        common.pg_drop(PG_DATABASE)
        common.clean_work_dir(NAME)
    runs = sorted([*_earlier_runs({r["size"] for r in runs}), *runs], key=lambda r: (r["size"], r["page"]))
    largest = max(r["size"] for r in runs)
    meets = all(r["meets_target"] for r in runs if r["size"] == largest)
    common.write_result(
        NAME, runs, None, meets,
        target=f"p95 < {OVERVIEW_TARGET_MS:.0f} ms (overview) and < {GRID_TARGET_MS:.0f} ms (grid page) "
               "at the largest size run (1,000,000 systems: python -m bench.dashboard --scale 1000), over HTTP to "
               "tracker serve (waitress)",
        notes=("size = systems in PostgreSQL (x1 = 1,000); two runs per size (page = overview, grid); "
               "seconds_* are medians per request over HTTP (overview = layout callback + refresh callback), "
               "baseline = the same tracker.store.queries calls in-process; ratio is informational, the "
               "targets are absolute p95s; peak_rss_mb is the server process; "
               f"{REQUESTS['overview']} overview and {REQUESTS['grid']} grid requests per size after one warm-up "
               "each; meets_target is judged at the largest size run."),
    )
    return {"name": NAME, "runs": runs, "meets_target": meets}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, action="append", help="x1 = 1,000 systems; repeatable (default 1000)")
    parser.add_argument("--keep", action="store_true", help="keep the registry built here for later --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure against a kept registry if there is one")
    args = parser.parse_args()
    run(args.scale or [1000], keep=args.keep, reuse=args.reuse)
    print((common.RESULTS_DIR / f"{NAME}.json").read_text())


if __name__ == "__main__":
    main()
