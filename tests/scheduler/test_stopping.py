"""`tracker demo` stops on SIGTERM as process managers send it: the server drains, the scheduler it
started stops too and frees the leader lock, so another scheduler leads at once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import requests
import sqlalchemy as sa

from tests.reliability.helpers import ROOT, free_port
from tracker.scheduler.leader import lock_for


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "zombie" not in status.read_text()


def _wait(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path,
          timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not within {timeout_s}s:\n{log.read_text(errors='replace')[-3000:]}")


def _up(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


def test_demo_stops_on_sigterm_and_frees_the_leader_lock(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update({"TRACKER_DATABASE_URL": f"sqlite:///{database}", "TRACKER_INBOX_DIR": str(tmp_path / "inbox"),
                "TRACKER_ARCHIVE_DIR": str(tmp_path / "archive"), "TRACKER_REJECTED_DIR": str(tmp_path / "rejected"),
                "TRACKER_ALERT_LOG_DIR": str(tmp_path / "alert-logs"), "NO_PROXY": "127.0.0.1"})
    log = tmp_path / "demo.log"
    scheduler_pid = 0
    with log.open("wb") as out:
        # --verbose: the demo's scheduler logs at INFO, so its pid shows on its "became leader" line.
        demo = subprocess.Popen([sys.executable, "-m", "tracker", "demo", "--port", str(port), "--verbose"], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: _up(f"http://127.0.0.1:{port}/healthz"), "the dashboard", demo, log, 180)
        _wait(lambda: "became leader" in log.read_text(errors="replace"), "the demo's scheduler leading", demo, log, 60)
        scheduler_pid = int(re.findall(r"pid=(\d+) \S+: became leader", log.read_text())[0])
        assert scheduler_pid != demo.pid and _pid_alive(scheduler_pid)

        sent = time.monotonic()
        demo.send_signal(signal.SIGTERM)
        code = demo.wait(timeout=30)
        took_s = time.monotonic() - sent
        assert code in (0, 143), log.read_text()[-3000:]
        assert took_s < 20, took_s
        assert not _pid_alive(scheduler_pid), "the demo left its scheduler running"
        assert "released the leader lock" in log.read_text()
        # The lock is free at once: a new scheduler would lead now, not after a timeout.
        lock = lock_for(sa.create_engine(f"sqlite:///{database}"))
        assert lock.try_acquire()
        lock.release()
        assert not _up(f"http://127.0.0.1:{port}/healthz")
    finally:
        # The demo's own children, found before it goes (its scheduler, even if it never logged).
        children = [p.pid for p in psutil.Process(demo.pid).children(recursive=True)] if demo.poll() is None else []
        if demo.poll() is None:
            demo.kill()
            demo.wait(timeout=10)
        for pid in {*children, scheduler_pid} - {0}:
            if _pid_alive(pid):
                os.kill(pid, signal.SIGKILL)  # only the children this test's demo started
