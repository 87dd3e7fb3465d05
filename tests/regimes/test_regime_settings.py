"""Regulator-set thresholds and declared conditions through the store, filing and evaluation,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.registry.factories import add_system_with_run
from tracker.auth.scope import SYSTEM_SCOPE
from tracker.cli.main import app
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import file_disclosure
from tracker.regimes.settings import SettingError, parse_threshold, record_setting, stored_settings
from tracker.registry.pipeline import default_regimes, evaluate_after_filings, run_evaluation
from tracker.registry.report import report_from_db
from tracker.store import audit
from tracker.store.models import AuditEvent, Flag, SystemCondition

AS_OF = date(2026, 11, 27)
TC260 = "cn-tc260-registration"
GPAI = "eu-gl-gpai-indicative"


@pytest.mark.parametrize(("text", "value"), [
    ("1e26", 1e26), ("1.5E+25", 1.5e25), ("10^26", 1e26), ("10**25", 1e25), ("1 × 10²⁶", 1e26),
    ("3x10^25", 3e25), ("2.5 × 10^24 FLOP", 2.5e24), ("  4e24 ", 4e24), ("10⁻³", 1e-3),
])
def test_thresholds_are_read_as_people_write_them(text: str, value: float) -> None:
    assert parse_threshold(text) == value


@pytest.mark.parametrize("text", ["", "abc", "-1e25", "0", "1,5e25", "10^999", "inf", "nan", "10²⁶²⁶²⁶"])
def test_an_unreadable_threshold_is_refused_saying_what_is_expected(text: str) -> None:
    with pytest.raises(SettingError, match=r"^threshold: .*expected e\.g\. 1e26, 10\^26"):
        parse_threshold(text)


def llama(engine: Engine) -> int:
    # Llama 3.1 405B as its model card files it (3.8e25 FLOP).
    return add_system_with_run(engine, provider="meta", system="Llama 3.1 405B", accelerator="NVIDIA H100 SXM5",
                               chip_hours=30.84e6, precision="bf16", parameters=405e9, training_tokens=15.6e12,
                               reported_flop=3.8e25, end_date=date(2024, 7, 1))


def tc260_flag(engine: Engine, system_id: int) -> Flag:
    with Session(engine) as session:
        return session.exec(select(Flag).where(Flag.subject_id == system_id, Flag.regime_id == TC260)).one()


def test_a_set_threshold_is_used_by_the_next_evaluation_and_audited(engine: Engine, settings_env: object) -> None:
    system_id = llama(engine)
    run_evaluation(engine, AS_OF, actor="test")
    with Session(engine) as session:  # without a threshold the regime cannot be assessed: no flag row
        assert session.exec(select(Flag).where(Flag.subject_id == system_id, Flag.regime_id == TC260)).first() is None
    with Session(engine) as session:
        record_setting(session, default_regimes(), regime_id=TC260, metric="training_flop", threshold="10^25",
                       reason="frontier systems register", set_by="regulator-1")
        session.commit()
    run_evaluation(engine, AS_OF, actor="test")
    flag = tc260_flag(engine, system_id)
    assert (flag.status, flag.threshold, flag.tier, flag.conditional) == ("above", 1e25, "T1", False)
    # Raised above the system: the next evaluation drops it below; the history keeps both settings.
    with Session(engine) as session:
        record_setting(session, default_regimes(), regime_id=TC260, metric="training_flop_cumulative",
                       threshold=1e26, reason="narrowed to the largest systems", set_by="regulator-2")
        session.commit()
    run_evaluation(engine, AS_OF, actor="test")
    assert (tc260_flag(engine, system_id).status, tc260_flag(engine, system_id).threshold) == ("below", 1e26)
    with Session(engine) as session:
        history = stored_settings(session, TC260)
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "regime.threshold_set")).all()
        assert audit.verify(session).ok
    assert [(s.threshold, s.set_by) for s in history] == [(1e26, "regulator-2"), (1e25, "regulator-1")]
    assert [json.loads(e.details_json)["threshold"] for e in events] == [1e25, 1e26]
    assert json.loads(events[1].details_json)["previous"] == {"metric": "training_flop_cumulative", "threshold": 1e25}


@pytest.mark.parametrize(("fields", "message"), [
    ({"regime_id": "eu-aia-gpaisr-presumption"}, r"^regime: .*published threshold.*cn-tc260-registration"),
    ({"regime_id": "xx-none"}, r"^regime: no regime 'xx-none'"),
    ({"metric": "users_mau"}, r"^metric: 'users_mau' cannot be set; expected one of"),
    ({"reason": "   "}, r"^reason: .*empty"),
    ({"threshold": "lots"}, r"^threshold: 'lots'"),
    ({"set_by": ""}, r"^set_by: "),
])
def test_a_refused_setting_stores_nothing(engine: Engine, settings_env: object, fields: dict[str, str],
                                         message: str) -> None:
    values = {"regime_id": TC260, "metric": "training_flop", "threshold": "1e25", "reason": "r", "set_by": "x"}
    with Session(engine) as session:
        with pytest.raises(SettingError, match=message):
            record_setting(session, default_regimes(), **(values | fields))  # type: ignore[arg-type]
        session.rollback()
        assert stored_settings(session) == []
        assert not session.exec(select(AuditEvent).where(AuditEvent.action == "regime.threshold_set")).all()


def test_a_changed_threshold_makes_the_incremental_evaluation_rerun_the_registry(engine: Engine,
                                                                                 settings_env: object) -> None:
    system_id = llama(engine)
    run_evaluation(engine, AS_OF, actor="test")
    assert evaluate_after_filings(engine, AS_OF, actor="test").scope == "filings"  # nothing changed: a no-op
    with Session(engine) as session:
        record_setting(session, default_regimes(), regime_id=TC260, metric="training_flop", threshold=1e25,
                       reason="set", set_by="regulator")
        session.commit()
    summary = evaluate_after_filings(engine, AS_OF, actor="test")
    assert summary.scope == "registry" and tc260_flag(engine, system_id).status == "above"


CONDITIONS = "system,version,condition,held,notes\n"


def file(engine: Engine, provider: str, body: str, kind: str | None = "system_conditions") -> Receipt | Rejection:
    return file_disclosure(engine, content=body.encode(), filename="conditions.csv", kind=kind,
                           provider_slug=provider, filed_by="test", channel="cli")


def gpai_flag(engine: Engine, system_id: int) -> Flag:
    with Session(engine) as session:
        return session.exec(select(Flag).where(Flag.subject_id == system_id, Flag.regime_id == GPAI)).one()


def test_declared_conditions_settle_the_conditional_flag_and_supersede(engine: Engine, settings_env: Path) -> None:
    # GPT-3 175B: 3.14e23 FLOP reported, past the EU guidelines' indicative 1e23.
    gpt3 = add_system_with_run(engine, provider="openai", system="GPT-3 175B", accelerator="NVIDIA V100 SXM2",
                               accelerator_count=10_000, training_hours=355.2, precision="fp16",
                               parameters=175e9, training_tokens=300e9, reported_flop=3.14e23)
    for n in range(4):  # others, so that a filing about GPT-3 is a small part of the registry
        add_system_with_run(engine, provider="other", system=f"small-{n}", reported_flop=1e20)
    run_evaluation(engine, AS_OF, actor="test")
    flag = gpai_flag(engine, gpt3)
    assert flag.status == "above" and flag.conditional
    assert json.loads(flag.unheld_conditions or "[]")[0].startswith("modality: generates language")
    with Session(engine) as session:
        systems = report_from_db(session, SYSTEM_SCOPE)["systems"]
    [reported] = [f for s in systems for f in s["flags"] if f["regime"] == GPAI and s["system"] == "GPT-3 175B"]
    assert reported["conditional"] is True and reported["unheld_conditions"] == json.loads(flag.unheld_conditions)

    # Declared by header alone (no kind given): the evaluation after the filing settles it.
    receipt = file(engine, "openai", "system,condition,held\nGPT-3 175B,generates_language_or_images,yes\n", None)
    assert isinstance(receipt, Receipt) and receipt.kind == "system_conditions"
    assert evaluate_after_filings(engine, AS_OF, actor="test").scope == "filings"
    flag = gpai_flag(engine, gpt3)
    assert flag.status == "above" and not flag.conditional and flag.unheld_conditions is None

    # A later declaration supersedes: not held makes the regime not apply.
    assert isinstance(file(engine, "openai", CONDITIONS + "GPT-3 175B,,generates_language_or_images,NO,"
                                                          "transcription only\n"), Receipt)
    evaluate_after_filings(engine, AS_OF, actor="test")
    flag = gpai_flag(engine, gpt3)
    assert flag.status == "below" and "declares generates_language_or_images not held" in (flag.reason or "")
    with Session(engine) as session:
        rows = session.exec(select(SystemCondition).order_by(SystemCondition.id)).all()  # type: ignore[arg-type]
    assert [(r.held, r.is_current, r.superseded_by_id) for r in rows] == [(True, False, rows[1].id),
                                                                          (False, True, None)]


def test_a_declaration_names_only_the_providers_own_systems(engine: Engine, settings_env: Path) -> None:
    gpt3 = add_system_with_run(engine, provider="openai", system="GPT-3 175B", reported_flop=3.14e23)
    run_evaluation(engine, AS_OF, actor="test")
    # Another provider declaring a system of the same name files about its own (new) system.
    assert isinstance(file(engine, "mallory", CONDITIONS + "GPT-3 175B,,generates_language_or_images,no,\n"), Receipt)
    run_evaluation(engine, AS_OF, actor="test")
    assert gpai_flag(engine, gpt3).conditional


@pytest.mark.parametrize(("body", "expected"), [
    ("GPT-3,,modality,yes,\n",
     "row 1, condition: 'modality' is not a condition any regime asks about; expected one of"),
    ("GPT-3,,generates_language_or_images,maybe,\n",
     "row 1, held: 'maybe' is not a known held; expected one of yes, no"),
    (",,generates_language_or_images,yes,\n", "row 1, system: is empty"),
    ("GPT-3,,sector:finance,yes,\nGPT-3,,sector:finance,no,\n",
     "row 2, condition: repeats condition 'sector:finance' of system 'GPT-3'"),
])
def test_a_bad_declaration_is_rejected_with_row_and_column(engine: Engine, settings_env: Path, body: str,
                                                           expected: str) -> None:
    outcome = file(engine, "openai", CONDITIONS + body)
    assert isinstance(outcome, Rejection)
    assert any(str(p).startswith(expected) for p in outcome.errors), [str(p) for p in outcome.errors]
    with Session(engine) as session:
        assert session.exec(select(SystemCondition)).all() == []


def test_cli_sets_and_lists_thresholds(engine: Engine, settings_env: Path) -> None:
    runner = CliRunner()
    done = runner.invoke(app, ["regimes", "set-threshold", TC260, "--metric", "inference_flop_30d", "--threshold",
                               "1 × 10²⁴", "--reason", "reasoning capacity", "--by", "ops"])
    assert done.exit_code == 0, done.output
    assert "cn-tc260-registration: inference_flop_30d ≥ 1.0 × 10²⁴ FLOP" in done.output
    refused = runner.invoke(app, ["regimes", "set-threshold", "eu-aia-gpaisr-presumption", "--metric",
                                  "training_flop", "--threshold", "1e20", "--reason", "r", "--by", "ops"])
    assert refused.exit_code == 1
    listed = runner.invoke(app, ["regimes", "settings", "--format", "json"])
    document = json.loads(listed.output)
    assert document["settable"] == [TC260]
    assert [(s["regime"], s["metric"], s["threshold"], s["set_by"]) for s in document["settings"]] == [
        (TC260, "inference_flop_30d", 1e24, "ops")]
    keys = runner.invoke(app, ["regimes", "conditions"]).output
    assert "generates_language_or_images" in keys and "sector:finance" in keys
