"""Worker test fixtures: real ``tracker worker`` processes (killed only by the pid this test started)
and a provider to file for."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.config import Settings
from tracker.store.models import Provider


@dataclass
class WorkerProcess:
    name: str
    log_path: Path
    proc: subprocess.Popen[bytes]

    @property
    def claimed_by(self) -> str:
        """How the worker names itself on the jobs it holds (host:pid:thread)."""
        return f":{self.proc.pid}:"

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if text in self.text():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited ({self.proc.returncode}):\n{self.text()[-3000:]}")
            time.sleep(0.05)
        raise AssertionError(f"{self.name}: {text!r} not logged within {timeout_s}s:\n{self.text()[-3000:]}")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


Spawn = Callable[..., WorkerProcess]


def worker_env(db_url: str, spool: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "TRACKER_DATABASE_URL": db_url, "TRACKER_ENVIRONMENT": "test",
            "TRACKER_SPOOL_DIR": str(spool), "TRACKER_WORKER_LEASE_SECONDS": "2",
            "TRACKER_WORKER_POLL_SECONDS": "0.2", **extra}


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Spawn]:
    started: list[WorkerProcess] = []

    def start(name: str, db_url: str, *args: str, **env: str) -> WorkerProcess:
        log_path = tmp_path / f"{name}.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen([sys.executable, "-m", "tracker", "worker", *args], cwd=tmp_path,
                                    env=worker_env(db_url, tmp_path / "spool", **env), stdout=log, stderr=log)
        process = WorkerProcess(name, log_path, proc)
        started.append(process)
        return process

    yield start
    for process in started:  # only the processes this test started, by pid
        if process.proc.poll() is None:
            process.kill()


@pytest.fixture
def queue_settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, environment="test", spool_dir=tmp_path / "spool",
                    inbox_dir=tmp_path / "inbox", archive_dir=tmp_path / "archive",
                    rejected_dir=tmp_path / "rejected", worker_lease_seconds=2, worker_poll_seconds=0.2)


@pytest.fixture
def acme(engine: Engine) -> int:
    with Session(engine) as session:
        provider = Provider(slug="acme", name="Acme")
        session.add(provider)
        session.commit()
        assert provider.id is not None
        return provider.id
