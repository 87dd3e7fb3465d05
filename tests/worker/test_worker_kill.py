"""Real ``tracker worker`` processes on a file database (SQLite) and PostgreSQL: a worker killed
with SIGKILL in the middle of a filing (its transaction written, not committed) leaves the job to
another worker after the lease; the filing is stored exactly once and nothing is lost."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.worker.conftest import Spawn
from tracker.config import Settings
from tracker.filing.service import sha256_of
from tracker.store.models import Filing, FilingJob, TrainingRun
from tracker.worker.queue import enqueue_upload

ROWS = 2000
HEADER = b"system,run_id,accelerator,accelerator_count,training_hours,precision\n"
UPLOAD = HEADER + b"".join(f"acme-lm-{i % 40},run-{i},H100-SXM,1024,{100 + i},bf16\n".encode() for i in range(ROWS))


def _job(engine: Engine, job_id: int) -> FilingJob:
    with Session(engine) as session:
        job = session.get(FilingJob, job_id)
        assert job is not None
        return job


def _wait_until(check: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout_s}s: {what}")


def test_a_worker_killed_mid_filing_leaves_the_job_to_another_which_files_it_once(
        engine: Engine, db_url: str, queue_settings: Settings, acme: int, spawn: Spawn) -> None:
    queued = enqueue_upload(engine, queue_settings, content=UPLOAD, filename="runs.csv", kind="training_runs",
                            provider_id=acme, provider_slug="acme", filed_by="api:test", channel="api")
    spooled = Path(_job(engine, queued.job_id).spool_path or "")
    assert spooled.is_file() and spooled.parent == queue_settings.spool_dir

    first = spawn("first", db_url, TRACKER_WORKER_TEST_PAUSE_S="120")
    first.wait_for(f"job {queued.job_id}: pausing")  # filed inside its transaction, not committed
    second = spawn("second", db_url)
    second.wait_for("started")
    time.sleep(3 * 2)  # three leases: a live worker keeps its job however long it takes
    job = _job(engine, queued.job_id)
    assert (job.status, job.attempts) == ("running", 1) and first.claimed_by in (job.claimed_by or "")

    first.kill()
    _wait_until(lambda: _job(engine, queued.job_id).status == "done", 90, "the second worker finishes the job")
    job = _job(engine, queued.job_id)
    assert job.attempts == 2 and second.claimed_by in (job.claimed_by or "")
    sha256, _size = sha256_of(UPLOAD)
    with Session(engine) as session:
        stored = session.exec(select(Filing).where(Filing.sha256 == sha256)).all()
        assert [(f.status, f.accession, f.record_count) for f in stored] == [("accepted", job.accession, ROWS)]
        assert len(session.exec(select(TrainingRun)).all()) == ROWS  # nothing of the killed attempt, nothing lost
    assert not spooled.exists()  # removed once filed
    # The filing queued its evaluation in the same transaction; the surviving worker ran it.
    _wait_until(lambda: _evaluations(engine) == ["done"], 60, "the evaluation after the filing")
    assert '"duplicate": false' in (job.outcome_json or "")


def _evaluations(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [j.status for j in session.exec(select(FilingJob).where(FilingJob.job_type == "evaluation")).all()]


def test_workers_share_the_queue_and_file_each_upload_once(
        engine: Engine, db_url: str, queue_settings: Settings, acme: int, spawn: Spawn) -> None:
    uploads = [HEADER + f"acme-lm,run-{n},H100-SXM,1024,{200 + n},bf16\n".encode() for n in range(8)]
    for n, content in enumerate(uploads):
        enqueue_upload(engine, queue_settings, content=content, filename=f"r{n}.csv", kind="training_runs",
                       provider_id=acme, provider_slug="acme", filed_by="api:test", channel="api")
    # A lease no load on this machine outlasts: here no job may be taken from a live worker.
    workers = [spawn(f"w{n}", db_url, "--until-idle", TRACKER_WORKER_LEASE_SECONDS="60") for n in range(3)]
    for worker in workers:
        assert worker.proc.wait(timeout=120) == 0, worker.text()[-2000:]
    with Session(engine) as session:
        jobs = session.exec(select(FilingJob).where(FilingJob.job_type == "filing")).all()
        assert sorted(j.status for j in jobs) == ["done"] * 8 and {j.attempts for j in jobs} == {1}
        filed = session.exec(select(Filing)).all()
        assert sorted(f.filename for f in filed) == sorted(f"r{n}.csv" for n in range(8))
        assert sorted(j.accession or "" for j in jobs) == sorted(f.accession for f in filed)
