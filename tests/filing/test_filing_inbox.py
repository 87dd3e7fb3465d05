"""The inbox folder: file, then move; rejected files parked with their errors; crash-safe."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from sqlalchemy.engine import Engine

from tests.filing.conftest import filings, record_counts
from tracker.config import get_settings
from tracker.filing.inbox import poll_inbox
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import file_disclosure
from tracker.store.db import get_engine

GOOD = b"system,run_id,reported_flop\nacme-lm,r1,1e24\n"
BAD = b"system,run_id,accelerator_count,reported_flop\nacme-lm,r1,-8,1e24\n"


def drop(runtime: Path, provider: str, kind: str, name: str, content: bytes) -> Path:
    folder = runtime / "inbox" / provider / kind
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def test_accepted_files_are_archived_under_their_accession(settings_env: Path) -> None:
    engine = get_engine()
    source = drop(settings_env, "acme", "training_runs", "runs.csv", GOOD)
    (result,) = poll_inbox(engine, get_settings(), min_age_s=0)
    assert isinstance(result.outcome, Receipt)
    assert result.destination == settings_env / "archive" / "acme" / "training_runs" / \
        f"{result.outcome.accession}__runs.csv"
    assert result.destination.read_bytes() == GOOD and not source.exists()
    (stored,) = filings(engine)
    assert stored.channel == "inbox" and stored.stored_path == str(result.destination)
    assert poll_inbox(engine, get_settings(), min_age_s=0) == []


def test_rejected_files_are_parked_with_their_errors(settings_env: Path) -> None:
    engine = get_engine()
    drop(settings_env, "acme", "training_runs", "bad.csv", BAD)
    (result,) = poll_inbox(engine, get_settings(), min_age_s=0)
    assert isinstance(result.outcome, Rejection)
    parked = settings_env / "rejected" / "acme" / "training_runs" / "bad.csv"
    assert result.destination == parked and parked.read_bytes() == BAD
    errors = json.loads((parked.parent / "bad.csv.errors.json").read_text())
    assert errors["errors"][0]["message"].startswith("-8 is negative")
    assert record_counts(engine)["training_run"] == 0


def test_files_being_written_are_skipped(settings_env: Path) -> None:
    engine = get_engine()
    drop(settings_env, "acme", "training_runs", "upload.csv.part", GOOD)
    drop(settings_env, "acme", "training_runs", ".hidden.csv", GOOD)
    fresh = drop(settings_env, "acme", "training_runs", "fresh.csv", GOOD)
    assert poll_inbox(engine, get_settings(), min_age_s=60) == []
    old = time.time() - 120
    os.utime(fresh, (old, old))
    (result,) = poll_inbox(engine, get_settings(), min_age_s=60)
    assert result.source == fresh


def test_a_crash_between_commit_and_move_files_once(settings_env: Path) -> None:
    engine = get_engine()
    source = drop(settings_env, "acme", "training_runs", "runs.csv", GOOD)
    # The process "died" after committing: the filing exists but the file never moved.
    first = file_disclosure(engine, content=source, filename="runs.csv", kind="training_runs",
                            provider_slug="acme", filed_by="inbox", channel="inbox")
    (result,) = poll_inbox(engine, get_settings(), min_age_s=0)
    assert isinstance(result.outcome, Receipt) and result.outcome.duplicate
    assert result.outcome.accession == first.accession
    assert result.destination is not None and result.destination.name == f"{first.accession}__runs.csv"
    assert len(filings(engine)) == 1 and record_counts(engine)["training_run"] == 1


def test_unknown_kind_folders_are_rejected_with_a_reason(settings_env: Path, engine: Engine) -> None:
    drop(settings_env, "acme", "weights", "w.csv", GOOD)
    (result,) = poll_inbox(get_engine(), get_settings(), min_age_s=0)
    assert isinstance(result.outcome, Rejection)
    assert "not a kind" in str(result.outcome.errors[0])
    assert result.destination is not None
    assert result.destination.is_relative_to(settings_env / "rejected")
