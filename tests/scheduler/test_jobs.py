"""Job wrappers and the job table: explicit ids, one instance, coalesced, failures contained."""

from __future__ import annotations

import logging
import os
import sys
import time
import types
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.config import Settings
from tracker.scheduler import jobs
from tracker.scheduler.main import DAILY_MISFIRE_GRACE_S, Options, build_scheduler
from tracker.store.models import Estimate, Filing, FilingJob

RUNS = (b"system,run_id,accelerator,accelerator_count,training_hours,precision\n"
        b"acme-lm,r1,H100-SXM,1024,720,bf16\n")


def test_every_job_has_an_explicit_id_one_instance_and_a_grace_time(engine: Engine, db_url: str) -> None:
    settings = Settings(database_url=db_url, inbox_poll_seconds=60, dispatch_seconds=30)
    scheduler, _executor = build_scheduler(engine, settings, Options())
    found = {job.id: job for job in scheduler.get_jobs()}
    assert set(found) == {"public-refresh", "inbox-poll", "evaluate", "deadline-reminders",
                          "alerts-dispatch", "audit-checkpoint", "partition-maintenance"}
    for job in found.values():
        assert job.coalesce is True and job.max_instances == 1
        assert job.func_ref.startswith("tracker.scheduler.jobs:")
    assert found["alerts-dispatch"].trigger.interval.total_seconds() == 30
    assert found["alerts-dispatch"].misfire_grace_time == 30
    assert found["inbox-poll"].trigger.interval.total_seconds() == 60
    assert found["evaluate"].misfire_grace_time == DAILY_MISFIRE_GRACE_S
    assert str(found["evaluate"].trigger) == "cron[hour='2', minute='0']"


def test_tick_runs_every_job_on_the_short_interval(engine: Engine, db_url: str) -> None:
    scheduler, _ = build_scheduler(engine, Settings(database_url=db_url), Options(tick_seconds=0.5))
    assert {job.trigger.interval.total_seconds() for job in scheduler.get_jobs()} == {0.5}


def test_a_failing_job_is_logged_and_does_not_raise(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import tracker.alerts.dispatch as dispatch

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(dispatch, "dispatch_pending", broken)
    with caplog.at_level(logging.INFO, logger="tracker.scheduler.jobs"):
        jobs.dispatch_alerts()
    assert "job alerts-dispatch failed" in caplog.text and "database on fire" in caplog.text


def test_a_missing_module_skips_the_job(monkeypatch: pytest.MonkeyPatch,
                                        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "tracker.filing.inbox", None)  # import raises ImportError
    with caplog.at_level(logging.INFO, logger="tracker.scheduler.jobs"):
        jobs.poll_inbox()
    assert "job inbox-poll skipped" in caplog.text


def test_the_inbox_poll_queues_each_ready_file_once_and_a_worker_files_and_evaluates_it(
        settings_env: Path, engine: Engine) -> None:
    from tracker.config import get_settings
    from tracker.worker.runner import Worker

    folder = settings_env / "inbox" / "acme" / "training_runs"
    folder.mkdir(parents=True)
    (folder / "runs.csv").write_bytes(RUNS)
    os.utime(folder / "runs.csv", (time.time() - 120, time.time() - 120))
    jobs.poll_inbox()
    jobs.poll_inbox()  # the file is still in the inbox, but already queued
    with Session(engine) as session:
        queued = session.exec(select(FilingJob)).all()
        assert [(j.job_type, j.status, Path(j.spool_path or "").name) for j in queued] == [
            ("inbox", "queued", "runs.csv")]
        assert session.exec(select(Filing)).all() == []  # the leader only queues
    assert Worker(get_settings()).run(until_idle=True) == 2  # the filing, then the evaluation it queued
    assert not (folder / "runs.csv").exists()
    with Session(engine) as session:
        (filing,) = session.exec(select(Filing)).all()
        done = {j.job_type: (j.status, j.accession) for j in session.exec(select(FilingJob)).all()}
        assert done == {"inbox": ("done", filing.accession), "evaluation": ("done", None)}
        assert session.exec(select(Estimate)).first() is not None  # evaluated without the nightly run
    assert (settings_env / "archive" / "acme" / "training_runs" / f"{filing.accession}__runs.csv").is_file()


def test_partition_upkeep_runs_daily_and_skips_without_its_module(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, engine: Engine, db_url: str) -> None:
    scheduler, _ = build_scheduler(engine, Settings(database_url=db_url), Options())
    job = scheduler.get_job("partition-maintenance")
    assert job.func_ref == "tracker.scheduler.jobs:maintain_partitions" and job.coalesce
    assert str(job.trigger) == "cron[hour='0', minute='15']"
    monkeypatch.setitem(sys.modules, "tracker.store.partitions", None)
    with caplog.at_level(logging.INFO, logger="tracker.scheduler.jobs"):
        jobs.maintain_partitions()
    assert "job partition-maintenance skipped" in caplog.text
    calls: list[tuple[object, object, date]] = []
    fake = types.ModuleType("tracker.store.partitions")
    fake.maintain = lambda e, s, today: calls.append((e, s, today)) or "2 partitions created"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tracker.store.partitions", fake)
    with caplog.at_level(logging.INFO, logger="tracker.scheduler.jobs"):
        jobs.maintain_partitions()
    assert len(calls) == 1 and calls[0][2] == jobs._today()
    assert "job partition-maintenance finished" in caplog.text and "2 partitions created" in caplog.text
