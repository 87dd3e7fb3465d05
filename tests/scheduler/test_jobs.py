"""Job wrappers and the job table: explicit ids, one instance, coalesced, failures contained."""

from __future__ import annotations

import logging
import sys
import types
from datetime import date

import pytest
from sqlalchemy.engine import Engine

from tracker.config import Settings
from tracker.scheduler import jobs
from tracker.scheduler.main import DAILY_MISFIRE_GRACE_S, Options, build_scheduler


def test_every_job_has_an_explicit_id_one_instance_and_a_grace_time(engine: Engine, db_url: str) -> None:
    settings = Settings(database_url=db_url, inbox_poll_seconds=60, dispatch_seconds=30)
    scheduler, _executor = build_scheduler(engine, settings, Options())
    found = {job.id: job for job in scheduler.get_jobs()}
    assert set(found) == {"public-refresh", "inbox-poll", "evaluate", "deadline-reminders",
                          "alerts-dispatch", "audit-checkpoint"}
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


def test_an_accepted_filing_triggers_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    import tracker.registry.pipeline as pipeline

    calls: list[tuple[date, str]] = []
    inbox = types.ModuleType("tracker.filing.inbox")
    accepted = types.SimpleNamespace(outcome=types.SimpleNamespace(status="accepted", duplicate=False))
    duplicate = types.SimpleNamespace(outcome=types.SimpleNamespace(status="accepted", duplicate=True))
    rejected = types.SimpleNamespace(outcome=types.SimpleNamespace(status="rejected"))
    ages: list[float] = []
    inbox.MIN_AGE_S = 2.0  # type: ignore[attr-defined]
    inbox.poll_inbox = lambda engine, settings, min_age_s: ages.append(min_age_s) or [rejected, accepted]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "tracker.filing.inbox", inbox)
    # Only what the filings changed is evaluated (the pipeline decides when that must be everything).
    monkeypatch.setattr(pipeline, "evaluate_after_filings",
                        lambda engine, as_of, actor: calls.append((as_of, actor)))
    monkeypatch.setattr(pipeline, "run_evaluation", lambda *_a, **_k: pytest.fail("whole registry evaluated"))
    dispatched: list[bool] = []
    monkeypatch.setattr(jobs, "dispatch_alerts", lambda: dispatched.append(True))
    jobs.poll_inbox()
    assert [actor for _, actor in calls] == ["scheduler:inbox"]
    assert dispatched == [True]  # the filing's alerts go out at once
    assert ages == [2.0]  # the default 60 s poll keeps the full settling time

    calls.clear()
    inbox.poll_inbox = lambda engine, settings, min_age_s: [rejected, duplicate]  # type: ignore[attr-defined]
    jobs.poll_inbox()
    assert calls == []
    assert dispatched == [True, True]  # a rejection raises an alert too
