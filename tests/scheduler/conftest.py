"""Scheduler test fixtures: launch real scheduler processes; kill only those at the end.

The folder goes on sys.path for its helper module (pytest 9 does not put it there).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

from processes import SchedulerProcess  # noqa: E402

Launcher = Callable[..., SchedulerProcess]



@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launcher]:
    started: list[SchedulerProcess] = []

    def start(name: str, db_url: str, *args: str, env: dict[str, str] | None = None,
              wait: bool = False) -> SchedulerProcess:
        log_path = tmp_path / f"{name}.log"
        environment = {**os.environ, "TRACKER_DATABASE_URL": db_url,
                       "TRACKER_ENVIRONMENT": "test",
                       "TRACKER_INBOX_DIR": str(tmp_path / "inbox"),
                       "TRACKER_ARCHIVE_DIR": str(tmp_path / "archive"),
                       "TRACKER_REJECTED_DIR": str(tmp_path / "rejected"),
                       **(env or {})}
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "tracker.scheduler", *args],
                                    cwd=tmp_path, env=environment, stdout=log, stderr=log)
        process = SchedulerProcess(name, log_path, proc)
        started.append(process)
        if wait:
            proc.wait(timeout=60)
        return process

    yield start
    for process in started:  # only the processes this test started, by pid
        if process.proc.poll() is None:
            process.proc.send_signal(signal.SIGKILL)
            process.proc.wait(timeout=10)
