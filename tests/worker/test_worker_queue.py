"""The queue's rules on both databases: coalesced evaluations run one at a time, leases and claim
tokens, retries with backoff, poison jobs given up, inbox files queued once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.config import Settings
from tracker.store.models import Filing, FilingJob
from tracker.store.types import utcnow
from tracker.worker.claim import LostClaim, claim_next, finish, retry_later
from tracker.worker.jobs import run_job
from tracker.worker.queue import enqueue_evaluation, enqueue_inbox_file, enqueue_upload

GOOD = b"system,run_id,reported_flop\nacme-lm,r1,1e24\n"
BAD = b"system,run_id,reported_flop\nacme-lm,r1,-5\n"


def _jobs(engine: Engine) -> list[tuple[str, str, int]]:
    with Session(engine) as session:
        return [(j.job_type, j.status, j.attempts)
                for j in session.exec(select(FilingJob).order_by(FilingJob.id)).all()]  # type: ignore[arg-type]


def test_one_evaluation_is_queued_at_a_time_and_one_runs_at_a_time(engine: Engine, queue_settings: Settings) -> None:
    for _ in range(3):
        enqueue_evaluation(engine, queue_settings)
    assert _jobs(engine) == [("evaluation", "queued", 0)]
    running = claim_next(engine, "w1", lease_s=60)
    assert running is not None and running.job_type == "evaluation"
    enqueue_evaluation(engine, queue_settings)  # a filing committed while it runs needs another one
    enqueue_evaluation(engine, queue_settings)
    assert _jobs(engine) == [("evaluation", "running", 1), ("evaluation", "queued", 0)]
    assert claim_next(engine, "w2", lease_s=60) is None  # never two evaluations at once
    with engine.begin() as conn:
        finish(conn, running, "done")
    second = claim_next(engine, "w2", lease_s=60)
    assert second is not None and second.id != running.id


def test_a_job_whose_lease_ran_out_is_claimed_again_and_its_first_holder_finishes_nothing(
        engine: Engine, queue_settings: Settings, acme: int) -> None:
    queued = enqueue_upload(engine, queue_settings, content=GOOD, filename="r.csv", kind="training_runs",
                            provider_id=acme, provider_slug="acme", filed_by="api:t", channel="api")
    first = claim_next(engine, "w1", lease_s=5)
    assert first is not None and first.id == queued.job_id
    assert claim_next(engine, "w2", lease_s=5) is None  # held under a live lease
    second = claim_next(engine, "w2", lease_s=5, now=utcnow() + timedelta(seconds=6))
    assert second is not None and second.id == first.id and second.attempts == 2 and second.token != first.token
    with pytest.raises(LostClaim), engine.begin() as conn:
        finish(conn, first, "done")
    assert run_job(engine, queue_settings, second) == "done"
    with pytest.raises(LostClaim):  # the first holder, back from a long pause: its filing is rolled back
        run_job(engine, queue_settings, first)
    with Session(engine) as session:
        assert len(session.exec(select(Filing)).all()) == 1


def test_a_rejected_upload_ends_rejected_with_its_receipt_and_is_not_retried(
        engine: Engine, queue_settings: Settings, acme: int) -> None:
    enqueue_upload(engine, queue_settings, content=BAD, filename="bad.csv", kind="training_runs",
                   provider_id=acme, provider_slug="acme", filed_by="api:t", channel="api")
    claimed = claim_next(engine, "w1", lease_s=60)
    assert claimed is not None and run_job(engine, queue_settings, claimed) == "rejected"
    with Session(engine) as session:
        job = session.exec(select(FilingJob)).one()
        outcome = json.loads(job.outcome_json or "{}")
        assert outcome["status"] == "rejected" and outcome["errors"][0]["column"] == "reported_flop"
        assert job.accession == outcome["accession"]
    assert claim_next(engine, "w1", lease_s=60, now=utcnow() + timedelta(days=1)) is None
    assert not list(queue_settings.spool_dir.iterdir())


def test_failures_are_retried_after_a_backoff_then_given_up_without_blocking_others(
        engine: Engine, queue_settings: Settings, acme: int) -> None:
    settings = queue_settings.model_copy(update={"worker_max_attempts": 2})
    enqueue_upload(engine, settings, content=GOOD, filename="r.csv", kind="training_runs", provider_id=acme,
                   provider_slug="acme", filed_by="api:t", channel="api")
    enqueue_evaluation(engine, settings)
    now = utcnow()
    poison = claim_next(engine, "w1", lease_s=60, now=now)
    assert poison is not None and poison.job_type == "filing"
    assert retry_later(engine, poison, "OperationalError: disk I/O error", now=now) == "queued"
    other = claim_next(engine, "w1", lease_s=60, now=now)  # the backoff lets the next job through
    assert other is not None and other.job_type == "evaluation"
    again = claim_next(engine, "w1", lease_s=60, now=now + timedelta(seconds=6))
    assert again is not None and again.id == poison.id and again.attempts == 2
    assert retry_later(engine, again, "OperationalError: disk I/O error") == "failed"
    with Session(engine) as session:
        job = session.get(FilingJob, poison.id)
        assert job is not None and job.status == "failed" and "gave up after 2 attempts" in (job.last_error or "")


def test_a_job_whose_worker_died_every_time_is_given_up(engine: Engine, queue_settings: Settings, acme: int) -> None:
    settings = queue_settings.model_copy(update={"worker_max_attempts": 2})
    inbox_file = settings.inbox_dir / "acme" / "training_runs" / "huge.csv"
    inbox_file.parent.mkdir(parents=True)
    inbox_file.write_bytes(GOOD)
    assert enqueue_inbox_file(engine, settings, path=inbox_file, provider="acme", kind="training_runs")
    assert not enqueue_inbox_file(engine, settings, path=inbox_file, provider="acme", kind="training_runs")
    later = utcnow()
    for _ in range(3):  # each holder is killed: its lease runs out
        later += timedelta(seconds=61)
        claimed = claim_next(engine, "w", lease_s=60, now=later)
        assert claimed is not None
    assert claimed.exhausted and run_job(engine, settings, claimed) == "failed"
    assert not inbox_file.exists()  # parked with the reason, out of the next poll
    parked = settings.rejected_dir / "_unfiled" / "huge.csv"
    assert parked.is_file()
    assert "stopped 2 times" in Path(f"{parked}.errors.json").read_text()
    with Session(engine) as session:
        assert session.exec(select(Filing)).all() == []


def test_tracker_ingest_queues_the_evaluation_of_a_new_filing_only(settings_env: Path, tmp_path: Path,
                                                                   engine: Engine) -> None:
    from typer.testing import CliRunner

    from tracker.cli.main import app

    path = tmp_path / "runs.csv"
    path.write_bytes(GOOD)
    runner = CliRunner()
    for _ in range(2):  # the second is the same bytes: nothing new to evaluate
        result = runner.invoke(app, ["ingest", str(path), "--provider", "acme", "--kind", "training_runs"])
        assert result.exit_code == 0, result.output
    assert _jobs(engine) == [("evaluation", "queued", 0)]
    claimed = claim_next(engine, "w", lease_s=60)
    assert claimed is not None
    with engine.begin() as conn:
        finish(conn, claimed, "done")
    runner.invoke(app, ["ingest", str(path), "--provider", "acme", "--kind", "training_runs"])
    assert _jobs(engine) == [("evaluation", "done", 1)]
