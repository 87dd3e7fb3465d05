"""What every benchmark shares: measuring in a fresh process, medians, peak memory, result files.

A measurement runs in its own ``python -m bench.run --child`` process: the child loads its inputs
(untimed), resets the kernel's peak-RSS mark (``/proc/self/clear_refs``), times the work and
reads the new peak (``VmHWM``). So ``peak_rss_mb`` is the process's peak while the work ran,
inputs and interpreter included, and ``rss_added_mb`` is how much the work added on top of what
was resident before it. A fresh process per measurement keeps one run's caches and freed-but-kept
memory out of the next one.

Ours and the baseline alternate (ours first on even repetitions, the baseline first on odd ones),
so a burst of load from other users of the machine falls on both.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR") or BENCH_DIR / "results")
WORK_DIR = Path(os.environ.get("BENCH_WORK_DIR") or BENCH_DIR / "work")
CHILD_TIMEOUT_S = 1800
_RESULT_MARK = "BENCH-RESULT "


# --- memory ----------------------------------------------------------------------------------

def _status_mb(field_name: str) -> float | None:
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return None
    found = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else None


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 2**20


def reset_peak_rss() -> bool:
    """Set the kernel's peak-RSS mark to the current RSS (Linux >= 4.0); False when unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class PeakSampler:
    """Fallback where /proc/self/clear_refs is unavailable: poll RSS every 5 ms (psutil)."""

    def __init__(self) -> None:
        import threading

        self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def process_tree_rss_mb(pid: int) -> float:
    """RSS of a process and its children (for server subprocesses)."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20
    except psutil.Error:
        return 0.0


class PeakRss:
    """Samples a server subprocess tree's RSS every 50 ms while the block runs; ``mb`` is the peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.mb = pid, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.mb = max(self.mb, process_tree_rss_mb(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=1)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``timeout_s``."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# --- one measurement in a child process ------------------------------------------------------

class Benchmark(Protocol):
    """A ratio benchmark module: ``setup`` (untimed, in the child), then ``ours`` or ``baseline``."""

    NAME: str

    def setup(self, ctx: dict[str, Any]) -> Any: ...


@dataclass
class Sample:
    seconds: float
    peak_rss_mb: float
    rss_added_mb: float
    extra: dict[str, Any] = field(default_factory=dict)
    # CPU seconds of the process (every thread) during the work: on a machine shared with other
    # users, wall time includes waiting for a core and this does not.
    cpu_seconds: float | None = None


def child_main(spec_json: str) -> None:
    """Entry of ``python -m bench.run --child SPEC``: one timed call, result on stdout."""
    import gc
    import importlib

    spec = json.loads(spec_json)
    module = importlib.import_module(spec["module"])
    state = module.setup(spec["ctx"])
    work: Callable[[Any], dict[str, Any] | None] = getattr(module, spec["variant"])
    gc.collect()
    before = rss_mb()
    exact = reset_peak_rss()
    sampler = None if exact else PeakSampler().__enter__()
    started, cpu_started = time.perf_counter(), time.process_time()
    extra = work(state) or {}
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    if sampler is not None:
        sampler.__exit__()
        peak = sampler.peak
    else:
        peak = _status_mb("VmHWM") or rss_mb()
    teardown = getattr(module, "teardown", None)
    if teardown is not None:
        teardown(state)
    result = {"seconds": seconds, "peak_rss_mb": round(peak, 1), "rss_added_mb": round(max(peak - before, 0.0), 1),
              "cpu_seconds": round(cpu_seconds, 3), "extra": extra}
    print(_RESULT_MARK + json.dumps(result, default=str), flush=True)


def measure(module: str, variant: str, ctx: dict[str, Any], env: dict[str, str] | None = None) -> Sample:
    spec = json.dumps({"module": module, "variant": variant, "ctx": ctx})
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run", "--child", spec], cwd=PROJECT_ROOT, capture_output=True, text=True,
        timeout=CHILD_TIMEOUT_S, env={**os.environ, **(env or {})}, check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_RESULT_MARK)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{module}:{variant} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    data = json.loads(lines[-1][len(_RESULT_MARK):])
    return Sample(data["seconds"], data["peak_rss_mb"], data["rss_added_mb"], data["extra"], data.get("cpu_seconds"))


# --- statistics and results ----------------------------------------------------------------

def median(values: Iterable[float]) -> float:
    return float(statistics.median(list(values)))


def percentile(values: Iterable[float], q: float) -> float:
    """Nearest-rank percentile (q in 0-100): p95 of 20 samples is the 19th smallest."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * q // 100))
    return float(ordered[int(rank) - 1])


def machine() -> dict[str, Any]:
    import polars as pl

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "polars": pl.__version__,
            "platform": platform.platform(), "load_average_at_start": [round(x, 2) for x in load]}


def compare_runs(module: str, ctx: dict[str, Any], repetitions: int, *, size: int, scale: int,
                 env: dict[str, str] | None = None, log: Callable[[str], None] = print,
                 variants: tuple[str, str] = ("ours", "baseline")) -> dict[str, Any]:
    """``repetitions`` alternating measurements of ours and the baseline, summarised as a §5 run."""
    ours: list[Sample] = []
    base: list[Sample] = []
    for rep in range(repetitions):
        order = variants if rep % 2 == 0 else variants[::-1]
        for variant in order:
            sample = measure(module, variant, ctx, env)
            (ours if variant == variants[0] else base).append(sample)
            log(f"  x{scale} rep {rep + 1}/{repetitions} {variant:16s} {sample.seconds:8.3f} s  "
                f"peak {sample.peak_rss_mb:7.0f} MB")
    return summarise(ours, base, size=size, scale=scale)


def summarise(ours: list[Sample], base: list[Sample], *, size: int, scale: int) -> dict[str, Any]:
    """Ours and the baseline's samples at one size as a §5 run (medians, peaks, every sample)."""
    repetitions = len(ours)
    ours_s, base_s = median(s.seconds for s in ours), median(s.seconds for s in base)
    return {
        "size": size,
        "scale": scale,
        "seconds_median": round(ours_s, 4),
        "baseline_seconds_median": round(base_s, 4),
        "ratio": round(ours_s / base_s, 3) if base_s > 0 else None,
        "peak_rss_mb": round(max(s.peak_rss_mb for s in ours), 1),
        "baseline_peak_rss_mb": round(max(s.peak_rss_mb for s in base), 1),
        "rss_added_mb": round(max(s.rss_added_mb for s in ours), 1),
        "baseline_rss_added_mb": round(max(s.rss_added_mb for s in base), 1),
        "repetitions": repetitions,
        "seconds_all": [round(s.seconds, 4) for s in ours],
        "baseline_seconds_all": [round(s.seconds, 4) for s in base],
        "details": ours[-1].extra,
        "baseline_details": base[-1].extra,
        **({"cpu_seconds_median": round(median(s.cpu_seconds or 0.0 for s in ours), 3),
            "baseline_cpu_seconds_median": round(median(s.cpu_seconds or 0.0 for s in base), 3)}
           if all(s.cpu_seconds is not None for s in [*ours, *base]) else {}),
    }


def growth(runs: list[dict[str, Any]], key: str = "seconds_median") -> dict[str, Any] | None:
    """Seconds per unit of size at each scale, relative to the smallest: 1.0 everywhere = linear."""
    measured = [r for r in runs if r.get(key)]
    if len(measured) < 2:
        return None
    first = measured[0]
    per_unit = first[key] / first["size"]
    return {f"x{r['scale']}": round((r[key] / r["size"]) / per_unit, 3) for r in measured}


def write_result(name: str, runs: list[dict[str, Any]], target_ratio: float | None, meets_target: bool,
                 **extra: Any) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    document = {"name": name, "machine": machine(), "runs": runs, "target_ratio": target_ratio,
                "meets_target": meets_target, **extra}
    path = RESULTS_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2, default=str) + "\n")
    tmp.replace(path)
    return path


def work_dir(name: str) -> Path:
    path = WORK_DIR / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def clean_work_dir(name: str) -> None:
    shutil.rmtree(WORK_DIR / name, ignore_errors=True)


# --- PostgreSQL throwaway databases ------------------------------------------------------------

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def pg_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


def pg_available() -> bool:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


def pg_create(database: str) -> str:
    """Drop and create ``database``; returns its SQLAlchemy URL."""
    _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    _pg_admin(f'CREATE DATABASE "{database}"')
    return pg_url(database)


def pg_drop(database: str) -> None:
    _pg_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _pg_admin(statement: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


def create_schema(url: str) -> None:
    """Every table, as the Alembic head creates them (``tracker.store.migrate.upgrade``)."""
    from tracker.store.migrate import upgrade

    upgrade(url)


def module_name(module: ModuleType) -> str:
    return module.__name__
