"""Only one scheduler runs jobs; a standby takes over when the leader dies or stops.

Real processes (``python -m tracker.scheduler``) against the test database, with every job on a
short tick. Job runs are the log's ``job <id> started`` lines, each stamped with time and pid.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from processes import SchedulerProcess
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.alerts.outbox import enqueue
from tracker.config import Settings

Launcher = Callable[..., SchedulerProcess]
FAST = ["--tick-seconds", "0.3", "--standby-poll-seconds", "0.3"]
TAKEOVER_BOUND_S = 15.0


def _enqueue(engine: Engine, settings: Settings, key: str) -> int:
    with Session(engine) as session:
        alert = enqueue(session, kind="overdue", idempotency_key=key, payload={}, settings=settings)
        assert alert is not None and alert.id is not None
        session.commit()
        return alert.id


def _delivered_ids(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


def _wait_delivered(path: Path, alert_id: int, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while alert_id not in _delivered_ids(path):
        assert time.monotonic() < deadline, f"alert {alert_id} not delivered in {timeout_s}s"
        time.sleep(0.05)


@pytest.mark.slow
def test_one_leader_runs_jobs_and_a_standby_takes_over(
        launch: Launcher, db_url: str, engine: Engine, tmp_path: Path) -> None:
    alerts_log = tmp_path / "alerts.jsonl"
    env = {"TRACKER_ALERT_LOG_PATH": str(alerts_log)}
    settings = Settings(database_url=db_url, alert_log_path=alerts_log)
    first_alert = _enqueue(engine, settings, "before")

    a = launch("a", db_url, *FAST, env=env)
    a.wait_for("became leader")
    b = launch("b", db_url, *FAST, env=env)
    b.wait_for("standby")
    _wait_delivered(alerts_log, first_alert)  # the leader's jobs really run
    while len(a.job_starts()) < 10:
        a.wait_for("job", 5)
        time.sleep(0.1)
    assert b.job_starts() == []  # the standby runs nothing while the leader lives

    killed_at = time.time()
    killed_mono = time.monotonic()
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(timeout=10)
    took_over = b.wait_for("became leader", TAKEOVER_BOUND_S)
    assert took_over - killed_mono < TAKEOVER_BOUND_S
    second_alert = _enqueue(engine, settings, "after")
    _wait_delivered(alerts_log, second_alert)

    # No overlap: every run of A started before the kill, every run of B after it.
    assert max(at for at, _ in a.job_starts()) <= killed_at + 0.05
    assert min(at for at, _ in b.job_starts()) >= killed_at - 0.05
    assert {job for _, job in b.job_starts()} >= {"alerts-dispatch", "inbox-poll"}

    # A clean stop (SIGTERM) releases the lock at once for the next standby.
    c = launch("c", db_url, *FAST, env=env)
    c.wait_for("standby")
    stopped_mono = time.monotonic()
    b.proc.send_signal(signal.SIGTERM)
    assert b.proc.wait(timeout=20) == 0
    assert b.has("released the leader lock")
    c.wait_for("became leader", TAKEOVER_BOUND_S)
    assert time.monotonic() - stopped_mono < TAKEOVER_BOUND_S
    c.wait_for("job alerts-dispatch started")
    assert max(at for at, _ in b.job_starts()) <= min(at for at, _ in c.job_starts())
    c.proc.send_signal(signal.SIGINT)
    assert c.proc.wait(timeout=20) == 0

    # The job store is APScheduler's table in the application database, one row per job.
    with engine.connect() as conn:
        ids = set(conn.execute(sa.text("SELECT id FROM apscheduler_jobs")).scalars())
    assert ids == {"public-refresh", "inbox-poll", "evaluate", "deadline-reminders",
                   "alerts-dispatch", "audit-checkpoint", "partition-maintenance"}
    assert alerts_log.read_text().count("\n") == 2  # each alert delivered once


def test_once_runs_every_job_one_time_and_exits(
        launch: Launcher, db_url: str, engine: Engine, tmp_path: Path) -> None:
    alerts_log = tmp_path / "alerts.jsonl"
    settings = Settings(database_url=db_url, alert_log_path=alerts_log)
    alert_id = _enqueue(engine, settings, "once")
    run = launch("once", db_url, "--once", env={"TRACKER_ALERT_LOG_PATH": str(alerts_log)}, wait=True)
    assert run.proc.returncode == 0, "\n".join(run.lines())
    assert sorted(job for _, job in run.job_starts()) == sorted(
        ["public-refresh", "inbox-poll", "evaluate", "deadline-reminders", "alerts-dispatch", "audit-checkpoint",
         "partition-maintenance"])
    assert _delivered_ids(alerts_log) == [alert_id]


def test_a_leader_that_loses_its_lock_stops_jobs_and_stands_by(
        launch: Launcher, db_url: str, engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("only a PostgreSQL session can be taken away from a live process")
    a = launch("a", db_url, *FAST)
    a.wait_for("job alerts-dispatch started")
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                             " WHERE application_name = 'tracker-scheduler'"))
        conn.commit()
    a.wait_for("lost the leader lock", 15)
    a.wait_for("released the leader lock", 15)
    # Nobody else wants it: the same process takes the lock again and resumes.
    deadline = time.monotonic() + 15
    while sum("became leader" in line for line in a.lines()) < 2:
        assert time.monotonic() < deadline and a.proc.poll() is None, "\n".join(a.lines())
        time.sleep(0.05)
    a.proc.send_signal(signal.SIGTERM)
    assert a.proc.wait(timeout=20) == 0
