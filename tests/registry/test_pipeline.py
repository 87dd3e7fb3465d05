"""The evaluation shell: estimates, flags, history and alerts written once, on both backends."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.registry.factories import add_system_with_run
from tracker.auth.scope import SYSTEM_SCOPE, Scope
from tracker.registry.pipeline import run_evaluation
from tracker.registry.report import report_from_db
from tracker.store import audit
from tracker.store.models import Alert, AlertDelivery, Discrepancy, Estimate, Flag, FlagEvent, SystemStatus

AS_OF = date(2026, 11, 27)


@pytest.fixture
def llama(engine: Engine) -> int:
    # Llama 3.1 405B, as its model card files it: 30.84M H100-hours, 405B x 15.6T, 3.8e25 reported.
    return add_system_with_run(
        engine, provider="meta", system="Llama 3.1 405B", accelerator="NVIDIA H100 SXM5",
        chip_hours=30.84e6, precision="bf16", parameters=405e9, training_tokens=15.6e12,
        reported_flop=3.8e25, end_date=date(2024, 7, 1),
    )


def test_evaluation_flags_llama_405b_above_the_eu_threshold(engine: Engine, llama: int,
                                                             settings_env: object) -> None:
    summary = run_evaluation(engine, AS_OF, actor="test")
    assert summary.systems == 1
    with Session(engine) as session:
        training = session.exec(select(Estimate).where(Estimate.system_id == llama,
                                                       Estimate.kind == "training")).one()
        assert 3.8e25 / 1.3 <= training.central_flop <= 3.8e25 * 1.3
        assert training.low_flop <= training.central_flop <= training.high_flop
        assert "reported" in training.methods and "architecture" in training.methods
        eu = session.exec(select(Flag).where(Flag.subject_id == llama,
                                             Flag.regime_id == "eu-aia-gpaisr-presumption")).one()
        assert eu.status == "above"
        assert eu.threshold == 1e25
        ca = session.exec(select(Flag).where(Flag.subject_id == llama,
                                             Flag.regime_id == "us-ca-sb53-frontier-model")).one()
        assert ca.status == "below"
        alerts = session.exec(select(Alert).where(Alert.kind == "flag_change")).all()
        assert any(a.regime_id == "eu-aia-gpaisr-presumption" for a in alerts)
        assert session.exec(select(FlagEvent)).all()
        assert audit.verify(session).ok


def test_second_evaluation_writes_nothing_new(engine: Engine, llama: int, settings_env: object) -> None:
    run_evaluation(engine, AS_OF, actor="test")
    with Session(engine) as session:
        counts = (len(session.exec(select(Estimate)).all()), len(session.exec(select(FlagEvent)).all()),
                  len(session.exec(select(Alert)).all()), len(session.exec(select(AlertDelivery)).all()))
    again = run_evaluation(engine, AS_OF, actor="test")
    assert again.estimates_written == 0 and again.flags_written == 0 and again.transitions == 0
    with Session(engine) as session:
        assert (len(session.exec(select(Estimate)).all()), len(session.exec(select(FlagEvent)).all()),
                len(session.exec(select(Alert)).all()),
                len(session.exec(select(AlertDelivery)).all())) == counts


def test_lineage_adds_base_compute_and_report_follows_the_contract(engine: Engine, llama: int,
                                                                   settings_env: object) -> None:
    tuned = add_system_with_run(
        engine, provider="acme", system="Llama Legal", base_system_id=llama, run_id="ft-1",
        stage="fine_tuning", accelerator="H100-SXM", accelerator_count=512, training_hours=240,
        precision="bf16", utilization=0.35, parameters=405e9, training_tokens=6e10,
    )
    run_evaluation(engine, AS_OF, actor="test")
    with Session(engine) as session:
        report = report_from_db(session, SYSTEM_SCOPE)
        only_acme = report_from_db(session, Scope(actor="a", role="provider", provider_id=2))
    entries = {e["system"]: e for e in report["systems"]}
    legal = entries["Llama Legal"]
    base = entries["Llama 3.1 405B"]
    assert legal["training_flop"]["central"] > base["training_flop"]["central"]
    assert set(legal) >= {"provider", "system", "version", "training_flop", "confidence", "methods",
                          "inference_flop_30d", "flags"}
    assert {f["regime"] for f in legal["flags"]} >= {"eu-gl-modifier-relative"}
    assert [e["system"] for e in only_acme["systems"]] == ["Llama Legal"]
    assert tuned > llama


def test_in_progress_run_projects_its_crossing_dates(engine: Engine, settings_env: object) -> None:
    # 50,000 B200 at FP8 for 4,344 h (2026-10-01 to 2027-03-31) at 30% MFU: about 5.8e24 FLOP a day.
    frontier = add_system_with_run(
        engine, provider="frontier", system="Frontier One", status="in_progress", accelerator="NVIDIA B200",
        accelerator_count=50_000, training_hours=4344, precision="fp8", utilization=0.3,
        start_date=date(2026, 10, 1), end_date=date(2027, 3, 31),
    )
    run_evaluation(engine, AS_OF, actor="test")
    with Session(engine) as session:
        flags = {f.regime_id: f for f in session.exec(select(Flag).where(Flag.subject_id == frontier)).all()}
    eu, california = flags["eu-aia-gpaisr-presumption"], flags["us-ca-sb53-frontier-model"]
    assert eu.projected and eu.status == "above"
    assert eu.crossed_on == date(2026, 10, 3)  # 1e25 after two days at the current rate
    assert california.crossed_on == date(2026, 10, 19)  # 1e26 after eighteen days
    assert eu.deadline == date(2026, 12, 11)  # known today that it will be met: two weeks from now


def test_each_systems_highest_status_is_kept_for_the_views(engine: Engine, llama: int, settings_env: object) -> None:
    small = add_system_with_run(engine, provider="openai", system="GPT-3 175B", accelerator="NVIDIA V100 SXM2",
                                accelerator_count=10_000, training_hours=355.2, precision="fp16",
                                parameters=175e9, training_tokens=300e9, reported_flop=3.14e23)
    run_evaluation(engine, AS_OF, actor="test")
    with Session(engine) as session:
        summary = {s.system_id: s for s in session.exec(select(SystemStatus)).all()}
    assert summary[llama].status_rank == 4 and not summary[llama].projected  # above the EU threshold
    # 3.1e23 FLOP is past the EU guidelines' indicative 1e23: above, conditional on its modality.
    assert summary[small].status_rank == 4
    with Session(engine) as session:
        gpai_id = "eu-gl-gpai-indicative"
        gpai = session.exec(select(Flag).where(Flag.subject_id == small, Flag.regime_id == gpai_id)).one()
        others = session.exec(select(Flag).where(Flag.subject_id == small, Flag.regime_id != gpai_id,
                                                 Flag.status.in_(("above", "likely_above")))).all()  # type: ignore[attr-defined]
    assert gpai.status == "above" and gpai.conditional and "modality" in (gpai.unheld_conditions or "")
    assert [(f.regime_id, f.conditional) for f in others] == []  # below every other regime


def test_a_reported_figure_far_from_the_estimate_opens_one_discrepancy(engine: Engine,
                                                                       settings_env: object) -> None:
    # Llama 3.1 405B's runs as filed, but with a reported figure a quarter of what they imply.
    system_id = add_system_with_run(
        engine, provider="meta", system="Llama 3.1 405B", accelerator="NVIDIA H100 SXM5",
        chip_hours=30.84e6, precision="bf16", parameters=405e9, training_tokens=15.6e12,
        reported_flop=1.0e25, end_date=date(2024, 7, 1),
    )
    first = run_evaluation(engine, AS_OF, actor="test")
    again = run_evaluation(engine, AS_OF, actor="test")
    assert (first.discrepancies, again.discrepancies) == (1, 0)
    with Session(engine) as session:
        found = session.exec(select(Discrepancy)).one()
        assert (found.system_id, found.source, found.reported_flop, found.is_open) == (
            system_id, "independent", 1.0e25, True)
        # The independent figure: 6 x 405e9 x 15.6e12 = 3.8e25 and the hardware figure, reconciled.
        assert 2.5e25 < found.other_flop < 5e25
        assert found.ratio == pytest.approx(found.reported_flop / found.other_flop)
        assert found.detected_at is not None
        alerts = session.exec(select(Alert).where(Alert.kind == "discrepancy")).all()
        assert [a.idempotency_key for a in alerts] == [f"discrepancy:{found.id}"]


def test_a_first_evaluation_is_one_event_per_system_and_later_changes_are_transitions(
    engine: Engine, llama: int, settings_env: object
) -> None:
    from tracker.regimes.load import load_regimes

    first = run_evaluation(engine, AS_OF, actor="test")
    unassessable = sorted(r.id for r in load_regimes() if r.unknown_reason is not None)
    with Session(engine) as session:
        events = session.exec(select(FlagEvent)).all()
        assert [(e.kind, e.subject_id, e.regime_id, e.old_status, e.new_status) for e in events] == [
            ("first_evaluated", llama, None, None, "above")]
        assert first.transitions == 1
        stored = {f.regime_id for f in session.exec(select(Flag).where(Flag.subject_id == llama)).all()}
        assert "eu-aia-gpaisr-presumption" in stored and not stored & set(unassessable)
        # The crossing still raises its alert and its audit entry, as a change from nothing.
        alert = session.exec(select(Alert).where(Alert.regime_id == "eu-aia-gpaisr-presumption",
                                                 Alert.kind == "flag_change")).one()
        assert '"previous_status":null' in alert.payload_json
        assert audit.verify(session).ok
        # As stored before: an unknown flag of a regime the tracker cannot assess, and an EU flag
        # whose status differs from what the next evaluation computes.
        session.add(Flag(subject_id=llama, regime_id=unassessable[0], status="unknown", reason="needs revenue"))
        eu = session.exec(select(Flag).where(Flag.subject_id == llama,
                                             Flag.regime_id == "eu-aia-gpaisr-presumption")).one()
        eu.status = "likely_below"
        session.add(eu)
        session.commit()
    later = run_evaluation(engine, AS_OF, actor="test")
    with Session(engine) as session:
        events = session.exec(select(FlagEvent).order_by(FlagEvent.id)).all()  # type: ignore[arg-type]
        stored = {f.regime_id for f in session.exec(select(Flag).where(Flag.subject_id == llama)).all()}
    assert later.transitions == 1 and len(events) == 2
    assert (events[1].kind, events[1].regime_id, events[1].old_status, events[1].new_status) == (
        "transition", "eu-aia-gpaisr-presumption", "likely_below", "above")
    assert not stored & set(unassessable)
