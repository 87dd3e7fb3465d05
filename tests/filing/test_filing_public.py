"""Epoch AI import (real snapshots), matching and public discrepancies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.conftest import EPOCH_DIR, IN_CI
from tracker.filing.public import add_match, import_epoch, name_key, record_public_discrepancies
from tracker.filing.service import file_disclosure
from tracker.store.models import Discrepancy, PublicRecord, PublicSnapshot


def epoch_file(name: str) -> Path:
    path = EPOCH_DIR / name
    if not path.is_file():
        message = f"Epoch AI snapshot {path} is absent (see /work/shared/data/epoch/README.md)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)
    return path


def file_runs(engine: Engine, content: bytes, provider: str = "meta") -> None:
    file_disclosure(engine, content=content, filename="r.csv", kind="training_runs", provider_slug=provider,
                    filed_by="test", channel="cli")


def test_name_keys_ignore_case_spaces_and_punctuation() -> None:
    assert name_key("Llama 3.1 405B") == name_key("llama-3.1-405b") == "llama31405b"
    assert name_key("Solar Open 100B\n") == "solaropen100b"


def test_import_is_idempotent_and_diffs_snapshots(engine: Engine) -> None:
    all_models, notable = epoch_file("all_ai_models.csv"), epoch_file("notable_ai_models.csv")
    first = import_epoch(engine, all_models, "test", source="epoch")
    assert first.created and first.row_count > 3000 and first.added == first.row_count
    again = import_epoch(engine, all_models, "test", source="epoch")
    assert not again.created and again.snapshot_id == first.snapshot_id
    second = import_epoch(engine, notable, "test", source="epoch")
    assert second.created and second.removed > 0 and second.added > 0 and second.changed > 0
    with Session(engine) as session:
        assert len(session.exec(select(PublicSnapshot)).all()) == 2
        current = session.exec(select(PublicRecord).where(col(PublicRecord.is_current).is_(True))).all()
        assert len(current) == second.row_count
        snapshot = session.get(PublicSnapshot, second.snapshot_id)
        diff = json.loads(snapshot.diff_json)  # type: ignore[union-attr]
        assert len(diff["removed"]) == second.removed
        llama = session.exec(select(PublicRecord).where(PublicRecord.name_key == "llama31405b",
                                                        col(PublicRecord.is_current).is_(True))).one()
        assert llama.training_flop == pytest.approx(3.8e25)
        assert "\n" not in llama.name


def test_reported_compute_far_from_the_public_figure_opens_a_discrepancy(engine: Engine) -> None:
    import_epoch(engine, epoch_file("all_ai_models.csv"), "test")
    file_runs(engine, b"system,run_id,reported_flop\nLlama 3.1 405B,pre,3.9e25\n")  # within 30%
    with Session(engine) as session:
        assert session.exec(select(Discrepancy)).all() == []
    file_runs(engine, b"system,run_id,reported_flop\nLlama 3.1 405B,pre,1e25\n")  # supersedes: -74%
    with Session(engine) as session:
        (found,) = session.exec(select(Discrepancy)).all()
        assert (found.source, found.reported_flop, found.other_flop) == ("public", 1e25, pytest.approx(3.8e25))
        assert found.is_open and found.ratio == pytest.approx(1e25 / 3.8e25)
        assert record_public_discrepancies(session) == 0  # not repeated


def test_names_match_with_version_and_through_an_explicit_mapping(engine: Engine) -> None:
    import_epoch(engine, epoch_file("all_ai_models.csv"), "test")
    file_runs(engine, b"system,version,run_id,reported_flop\nllama,3.1-405b,pre,1e24\n")
    file_runs(engine, b"system,run_id,reported_flop\nbig-one,pre,2e24\n")
    with Session(engine) as session:
        # "llama" + "3.1-405b" meets "Llama 3.1 405B" by key; "big-one" matches nothing yet.
        assert {d.reported_flop for d in session.exec(select(Discrepancy)).all()} == {1e24}
    with Session(engine) as session, session.begin():
        add_match(session, provider_slug="meta", system="big-one", version="", public_name="Llama 3.1 405B",
                  actor="test")
    with Session(engine) as session:
        assert {d.reported_flop for d in session.exec(select(Discrepancy)).all()} == {1e24, 2e24}
        with pytest.raises(LookupError):
            add_match(session, provider_slug="meta", system="ghost", version="", public_name="x", actor="t")
