"""`tracker demo --port N`: serves on that port, prints its address and accounts, and stays quiet."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
START_SECONDS = 240  # migrations, seven filings, four accounts and an evaluation on a busy machine
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    runtime = tmp_path / "runtime"
    return {**os.environ, "TRACKER_DATABASE_URL": f"sqlite:///{tmp_path / 'demo.db'}",
            "TRACKER_INBOX_DIR": str(runtime / "inbox"), "TRACKER_ARCHIVE_DIR": str(runtime / "archive"),
            "TRACKER_REJECTED_DIR": str(runtime / "rejected"), "TRACKER_SPOOL_DIR": str(runtime / "spool"),
            "TRACKER_ALERT_LOG_DIR": str(runtime / "alert-logs"),
            "TRACKER_SERVED_ADDRESS_PATH": str(runtime / "served-address.json"),
            "TRACKER_AUDIT_CHECKPOINT_PATH": str(runtime / "audit-checkpoints.jsonl"),
            "PYTHONUNBUFFERED": "1"}


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return int(response.status) == 200
    except OSError:
        return False


def test_demo_serves_on_the_port_given_and_prints_only_what_a_first_look_needs(tmp_path: Path) -> None:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "tracker", "demo", "--port", str(port)], cwd=ROOT,
                               env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")),  # type: ignore[union-attr]
                              daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + START_SECONDS
        while not (any("Stop with Ctrl-C" in line for line in lines) and _healthy(port)):
            assert process.poll() is None, "".join(lines)
            assert time.monotonic() < deadline, "".join(lines)
            time.sleep(0.5)
        # Let the scheduler's first ticks and the first requests log, if they were going to.
        for path in ("/login", "/healthz", "/login"):
            urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10).close()
        time.sleep(4)
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the demo and the scheduler it started
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        reader.join(timeout=5)
    output = "".join(lines)
    assert f"http://127.0.0.1:{port}/" in output
    for account in ("regulator / regulator-demo-pass", "admin / admin-demo-password", "meta / provider-demo-pass"):
        assert account in output, output
    assert not re.search(r"\bINFO\b", output), output
    assert "Task queue depth" not in output
    assert "demo stopped" in output
