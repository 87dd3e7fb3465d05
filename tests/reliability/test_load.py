"""Load: 50 concurrent clients file through the HTTP API and browse the dashboard against the
production server (``python -m tracker serve``: waitress, in its own process) on PostgreSQL.

Each client signs in as its provider's user, then loops until the time is up: files a new, distinct
disclosure; every fourth round (from the second) re-files one of its earlier files byte for byte (idempotency: 200 with
the original receipt); and browses (GET /, /systems, /alerts and a grid callback POST). Afterwards:
no 5xx and no failed connection, every accepted upload has exactly one filing (and its receipt), every
re-file returned its original accession, and the throughput and latency percentiles are printed and
written to tests/artifacts/load.json.

``TRACKER_LOAD_SECONDS`` sets the duration (default 60). Runs in CI (``-m slow`` is not excluded by
default) on PostgreSQL only; with CI=true a missing PostgreSQL fails it.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy.engine import Engine

from tests.reliability.helpers import (
    callback_body,
    proc_status_mib,
    running_server,
    scalar,
    seed_accounts,
    sign_in,
)

CLIENTS = 50
PROVIDERS = 10  # five clients per provider, each with its own token
ARTIFACT = Path(__file__).resolve().parents[1] / "artifacts" / "load.json"
GRID = "..systems-grid.getRowsResponse...sys-count.children.."


# The load measures capacity, not the filing rate limits (tests/api/test_api_limits.py): each client
# files about once a second, five per provider, far above a provider's default 60 a minute.
UNLIMITED = {"TRACKER_TOKEN_FILINGS_PER_MINUTE": "1000000", "TRACKER_TOKEN_FILING_BURST": "1000000",
             "TRACKER_PROVIDER_FILINGS_PER_MINUTE": "1000000", "TRACKER_PROVIDER_FILING_BURST": "1000000"}


def load_seconds() -> float:
    return float(os.environ.get("TRACKER_LOAD_SECONDS", "60"))


@dataclass
class Client:
    number: int
    provider: str
    token: str
    samples: list[tuple[str, int, float]] = field(default_factory=list)  # (operation, status, seconds)
    failures: list[str] = field(default_factory=list)
    filed: dict[str, str] = field(default_factory=dict)  # sha256 -> accession (first 201)
    refiled: list[tuple[str, str]] = field(default_factory=list)  # (expected accession, answered accession)


def _timed(client: Client, operation: str, call: Any, *args: Any, **kwargs: Any) -> requests.Response | None:
    started = time.perf_counter()
    try:
        response: requests.Response = call(*args, **kwargs)
    except requests.RequestException as exc:
        client.failures.append(f"{operation}: {type(exc).__name__}: {exc}")
        return None
    client.samples.append((operation, response.status_code, time.perf_counter() - started))
    return response


def _content(client: Client, n: int) -> bytes:
    return (f"system,run_id,reported_flop\nload-{client.number:02d}-lm,run-{client.number:02d}-{n:05d},"
            f"{1 + n % 9}e2{n % 5}\n").encode()


def _work(client: Client, base: str, deadline: list[float], start: threading.Barrier) -> None:
    auth = {"Authorization": f"Bearer {client.token}"}
    with requests.Session() as http:
        signed_in = sign_in(http, base, f"{client.provider}-user").status_code == 302
        start.wait(timeout=120)  # everybody waits here, signed in or not, so nobody blocks the others
        if not signed_in:
            client.failures.append("sign-in refused")
            return
        grid = callback_body(GRID, [{"id": "systems-grid", "property": "getRowsRequest",
                                     "value": {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}}])
        first = _content(client, 1)
        n = 0
        while time.monotonic() < deadline[0]:  # read each round: set once all clients are signed in
            n += 1
            content = _content(client, n)
            filed = _timed(client, "file", _post, http, base, auth, content)
            if filed is not None and filed.status_code == 201:
                client.filed[hashlib.sha256(content).hexdigest()] = filed.json()["accession"]
            elif filed is not None:
                client.failures.append(f"file: {filed.status_code} {filed.text[:200]}")
            accession = client.filed.get(hashlib.sha256(first).hexdigest())
            if n % 4 == 2 and accession:
                again = _timed(client, "refile", _post, http, base, auth, first)  # the first file, byte for byte
                if again is not None and again.status_code == 200:
                    client.refiled.append((accession, again.json()["accession"]))
                elif again is not None:
                    client.failures.append(f"refile: {again.status_code} {again.text[:200]}")
            for path in ("/", "/systems", "/alerts"):
                _timed(client, f"GET {path}", http.get, f"{base}{path}", timeout=120)
            _timed(client, "GET /login", http.get, f"{base}/login", allow_redirects=False, timeout=120)
            _timed(client, "grid callback", http.post, f"{base}/_dash-update-component", json=grid,
                   headers={"Origin": base}, timeout=120)


def _post(http: requests.Session, base: str, auth: dict[str, str], content: bytes) -> requests.Response:
    return http.post(f"{base}/api/v1/disclosures", headers=auth, data={"kind": "training_runs"},
                     files={"file": ("runs.csv", content)}, timeout=120)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def _report(clients: list[Client], elapsed: float, server: dict[str, Any]) -> dict[str, Any]:
    by_operation: dict[str, list[float]] = defaultdict(list)
    statuses: dict[str, int] = defaultdict(int)
    for client in clients:
        for operation, status, seconds in client.samples:
            by_operation[operation].append(seconds)
            statuses[str(status)] += 1
    everything = [s for values in by_operation.values() for s in values]
    filings = sum(len(by_operation.get(k, [])) for k in ("file", "refile"))
    return {
        "clients": len(clients), "seconds": round(elapsed, 1), "requests": len(everything),
        "throughput_rps": round(len(everything) / elapsed, 1),
        "filings_per_s": round(filings / elapsed, 1),
        "latency_ms": {"p50": round(1000 * statistics.median(everything), 1),
                       "p95": round(1000 * _percentile(everything, 0.95), 1),
                       "p99": round(1000 * _percentile(everything, 0.99), 1)},
        "by_operation": {k: {"count": len(v), "p50_ms": round(1000 * statistics.median(v), 1),
                             "p95_ms": round(1000 * _percentile(v, 0.95), 1)} for k, v in sorted(by_operation.items())},
        "statuses": dict(sorted(statuses.items())), "server": server,
    }


# --- hostile uploads alongside (issue 15) -------------------------------------------------------------

HOSTILE_PROVIDER = "hostile"


def hostile_payloads() -> list[tuple[str, str, bytes]]:
    """Four uploads that cost the server the most per byte: (kind, filename, content)."""
    from tests.filing.test_filing_limits import _padded, under_declared

    wide = ",".join(["system", "run_id", "reported_flop", *[f"junk_column_{i}" for i in range(250_000)]])
    rows = "".join(f"hostile-lm,run-{i:08d},{1 + i % 9}e2{i % 5}\n" for i in range(700_000))
    return [
        ("training_runs", "wide.csv", (wide + "\na,r1,1e24" + "," * 250_000 + "\n").encode()),
        ("clusters", "bomb.xlsx", under_declared(_padded(257))),
        ("clusters", "padded.xlsx", _padded(40)),  # honest sizes, 40 MiB of sheet XML: parsed, then rejected
        # 20 MB of valid rows and one bad one at the end: read and validated in full, then rejected.
        ("training_runs", "long.csv", ("system,run_id,reported_flop\n" + rows + "hostile-lm,last,-1\n").encode()),
    ]


@dataclass
class Hostile:
    kind: str
    filename: str
    content: bytes
    statuses: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _attack(hostile: Hostile, base: str, token: str, deadline: list[float], start: threading.Barrier) -> None:
    start.wait(timeout=120)
    with requests.Session() as http:
        while time.monotonic() < deadline[0]:
            try:
                answer = http.post(f"{base}/api/v1/disclosures", headers={"Authorization": f"Bearer {token}"},
                                   data={"kind": hostile.kind}, files={"file": (hostile.filename, hostile.content)},
                                   timeout=300)
            except requests.RequestException as exc:
                hostile.failures.append(f"{type(exc).__name__}: {exc}")
                continue
            hostile.statuses.append(answer.status_code)


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
@pytest.mark.parametrize("hostile_uploads", [0, 4], ids=["alone", "with-four-hostile-uploads"])
def test_fifty_clients_file_and_browse_without_errors_or_duplicates(engine: Engine, db_url: str, tmp_path: Path,
                                                                     hostile_uploads: int) -> None:
    providers = [f"load-{p:02d}" for p in range(PROVIDERS)]
    tokens = seed_accounts(engine, providers, tokens_per_provider=CLIENTS // PROVIDERS)
    attackers = [Hostile(*payload) for payload in hostile_payloads()[:hostile_uploads]]
    hostile_tokens = seed_accounts(engine, [HOSTILE_PROVIDER], regulator=None,
                                   tokens_per_provider=len(attackers))[HOSTILE_PROVIDER] if attackers else []
    clients = [Client(n, providers[n % PROVIDERS], tokens[providers[n % PROVIDERS]][n // PROVIDERS])
               for n in range(CLIENTS)]
    with running_server(db_url, tmp_path / "runtime", cli=True, **UNLIMITED) as server:
        start = threading.Barrier(CLIENTS + len(attackers) + 1)
        deadline = [time.monotonic() + 3600]  # replaced below, once everybody is signed in
        threads = [threading.Thread(target=_work, args=(c, server.url, deadline, start), daemon=True)
                   for c in clients]
        threads += [threading.Thread(target=_attack, args=(h, server.url, t, deadline, start), daemon=True)
                    for h, t in zip(attackers, hostile_tokens, strict=True)]
        for thread in threads:
            thread.start()
        start.wait(timeout=120)
        began = time.monotonic()
        deadline[0] = began + load_seconds()
        for thread in threads:
            thread.join(timeout=load_seconds() + 240)
        elapsed = time.monotonic() - began
        assert not any(t.is_alive() for t in threads), "clients still running long after the deadline"
        server_info = {"peak_rss_mib": round(proc_status_mib(server.pid, "VmHWM"), 1)}
        receipts = [(c, accession) for c in clients for accession in list(c.filed.values())[:1]]
        for client, accession in receipts:  # each client's first receipt, read back over the API
            got = requests.get(f"{server.url}/api/v1/disclosures/{accession}",
                               headers={"Authorization": f"Bearer {client.token}"}, timeout=60)
            assert got.status_code == 200 and got.json()["accession"] == accession
        assert server.alive()
        assert "Traceback" not in server.stderr(), server.stderr()[-3000:]

    report = _report(clients, elapsed, server_info)
    report["hostile"] = [{"filename": h.filename, "bytes": len(h.content), "statuses": dict(sorted(
        {str(s): h.statuses.count(s) for s in set(h.statuses)}.items())), "failures": h.failures[:5]}
        for h in attackers]
    artifact = ARTIFACT if not attackers else ARTIFACT.with_name("load-hostile.json")
    artifact.parent.mkdir(parents=True, exist_ok=True)
    artifact.write_text(json.dumps(report, indent=2) + "\n")
    print("\nload:", json.dumps(report, indent=2))

    failures = [f"client {c.number}: {f}" for c in clients for f in c.failures]
    assert not failures, failures[:20]
    assert not [s for s in report["statuses"] if s.startswith("5")], report["statuses"]
    accepted = {sha: acc for c in clients for sha, acc in c.filed.items()}
    assert len(accepted) == sum(len(c.filed) for c in clients)  # distinct content per client
    assert len(set(accepted.values())) == len(accepted)  # one accession per upload
    assert report["by_operation"]["file"]["count"] == len(accepted)
    assert all(expected == answered for c in clients for expected, answered in c.refiled)
    assert sum(len(c.refiled) for c in clients) > 0
    # Exactly one filing (and one stored run) per accepted upload; nothing from the re-files. The
    # hostile provider's uploads are all refused: none stores a record.
    load = "filing f JOIN provider p ON p.id = f.provider_id WHERE p.slug LIKE 'load-%'"
    assert scalar(engine, f"SELECT count(*) FROM {load} AND f.status = 'accepted'") == len(accepted)
    assert scalar(engine, f"SELECT count(*) FROM {load} AND f.status <> 'accepted'") == 0
    assert scalar(engine, f"SELECT count(*) FROM (SELECT f.provider_id, f.sha256 FROM {load} "
                          "GROUP BY f.provider_id, f.sha256 HAVING count(*) > 1) d") == 0
    assert scalar(engine, "SELECT count(*) FROM training_run") == len(accepted)
    assert scalar(engine, f"SELECT count(DISTINCT f.accession) FROM {load}") == len(accepted)
    assert scalar(engine, "SELECT count(*) FROM filing WHERE status = 'accepted' AND provider_id NOT IN "
                          "(SELECT id FROM provider WHERE slug LIKE 'load-%')") == 0
    for hostile in attackers:  # refused, turned away while busy, or (large) queued for a worker; never a
        # 500, never a dropped connection. No worker runs here: a queued one is never filed (checked above).
        assert not hostile.failures, (hostile.filename, hostile.failures[:3])
        assert hostile.statuses and set(hostile.statuses) <= {202, 400, 413, 503}, (hostile.filename, hostile.statuses)
    assert len(accepted) >= CLIENTS  # every client filed at least once
