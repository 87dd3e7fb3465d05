"""Obligations opened by the evaluation, submitted through the service the portal calls, decided by
a regulator: the deadline is met, the flag stops being overdue and the reminders stop."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tests.registration.registration_factories import AS_OF, EU, add_llama, add_small
from tracker.alerts.reminders import remind_deadlines
from tracker.auth.scope import SYSTEM_SCOPE
from tracker.config import get_settings
from tracker.registration.decide import decide
from tracker.registration.submit import RegistrationRejected, submit_registration
from tracker.registry.pipeline import run_evaluation
from tracker.registry.report import report_from_db
from tracker.store import audit
from tracker.store.models import (
    Alert,
    AuditEvent,
    Flag,
    Registration,
    RegistrationEvent,
    RegistrationSubmission,
    SystemCrossing,
)
from tracker.store.queries.overview import overview_counts


def _registration(engine: Engine, system_id: int, regime: str = EU) -> Registration:
    with Session(engine) as session:
        return session.exec(select(Registration).where(Registration.system_id == system_id,
                                                       Registration.regime_id == regime)).one()


def test_a_crossing_opens_one_due_obligation_with_the_flags_deadline(engine: Engine, settings_env: object) -> None:
    llama = add_llama(engine)
    small = add_small(engine, "meta", "small-7b")
    summary = run_evaluation(engine, AS_OF, actor="test")
    assert summary.obligations_opened >= 1
    with Session(engine) as session:
        flag = session.exec(select(Flag).where(Flag.subject_id == llama, Flag.regime_id == EU)).one()
        registration = session.exec(select(Registration).where(Registration.system_id == llama,
                                                               Registration.regime_id == EU)).one()
        # Every unconditional crossing of a regime with an obligation has one, and nothing else
        # does (a conditional flag waits for the provider's declaration of the unheld conditions).
        crossing = session.exec(select(Flag).where(Flag.subject_kind == "system", col(Flag.conditional).is_(False),
                                                   col(Flag.status).in_(("above", "likely_above")))).all()
        opened = session.exec(select(Registration)).all()
        assert {(f.subject_id, f.regime_id) for f in crossing} == {(r.system_id, r.regime_id) for r in opened}
        assert all(r.system_id != small for r in opened)
        events = session.exec(select(RegistrationEvent).where(
            RegistrationEvent.registration_id == registration.id)).all()
        audited = session.exec(select(AuditEvent).where(AuditEvent.action == "registration.open",
                                                        AuditEvent.entity_id == str(registration.id))).all()
        alerts = session.exec(select(Alert).where(Alert.kind == "registration",
                                                  Alert.system_id == llama, Alert.regime_id == EU)).all()
    assert flag.status == "above"
    assert (registration.state, registration.obligation, registration.voluntary) == ("due", "notify", False)
    assert registration.deadline == flag.deadline and registration.deadline is not None
    assert registration.crossed_on == flag.crossed_on and registration.threshold == 1e25
    assert [(e.from_state, e.to_state, e.action) for e in events] == [(None, "due", "open")]
    assert len(audited) == 1 and len(alerts) == 1
    body = json.loads(alerts[0].payload_json)
    assert body["status"] == "due" and body["provider"] == "meta" and body["regime"] == EU
    assert body["deadline"] == registration.deadline.isoformat() and body["threshold"] == 1e25

    again = run_evaluation(engine, AS_OF, actor="test")  # idempotent: nothing opened twice
    assert again.obligations_opened == 0
    with Session(engine) as session:
        assert len(session.exec(select(Registration)).all()) == len(opened)


def test_submission_meets_the_deadline_stops_overdue_and_reminders(engine: Engine, settings_env: object) -> None:
    llama = add_llama(engine)
    run_evaluation(engine, AS_OF, actor="test")
    due = _registration(engine, llama)
    # Crossed 2024-07-01, EU rules in force 2025-08-02: two weeks on, long overdue on AS_OF.
    assert due.deadline is not None and due.deadline < AS_OF
    with Session(engine) as session:
        overdue_before = overview_counts(session, SYSTEM_SCOPE, today=AS_OF)["overdue_notifications"]
    assert overdue_before >= 1
    settings = get_settings()
    assert remind_deadlines(engine, settings, AS_OF) >= 1  # overdue reminders go out while nothing is filed

    row = submit_registration(engine, provider="meta", system="Llama 3.1 405B", regime=EU, channel="portal",
                              submitted_by="meta-user", compute_flop=3.8e25, compute_method="hardware",
                              crossed_on=date(2024, 7, 1), contact="regulatory@meta.example")
    assert row["state"] == "submitted" and row["overdue"] is False and row["registration_number"] is None
    with Session(engine) as session:
        flag = session.exec(select(Flag).where(Flag.subject_id == llama, Flag.regime_id == EU)).one()
        crossing = session.get(SystemCrossing, (llama, EU))
        submission = session.exec(select(RegistrationSubmission)).one()
    assert flag.notified_at is not None and flag.notified_by == "meta-user"
    assert crossing is not None and crossing.notified
    assert submission.kind == "notification" and submission.compute_flop == 3.8e25
    assert len(submission.record_sha256) == 64
    with Session(engine) as session:
        assert overview_counts(session, SYSTEM_SCOPE, today=AS_OF)["overdue_notifications"] == overdue_before - 1

    # A later reminder run, even days on, sends nothing for this flag.
    with Session(engine) as session:
        before = len(session.exec(select(Alert).where(Alert.system_id == llama, Alert.regime_id == EU,
                                                      Alert.kind == "overdue")).all())
    remind_deadlines(engine, settings, AS_OF + timedelta(days=3))
    with Session(engine) as session:
        after = len(session.exec(select(Alert).where(Alert.system_id == llama, Alert.regime_id == EU,
                                                     Alert.kind == "overdue")).all())
    assert after == before
    # Re-evaluation keeps the notification (the flag is carried over, not reset).
    run_evaluation(engine, AS_OF + timedelta(days=1), actor="test")
    with Session(engine) as session:
        flag = session.exec(select(Flag).where(Flag.subject_id == llama, Flag.regime_id == EU)).one()
    assert flag.notified_at is not None

    with Session(engine) as session:
        decided = decide(session, row["id"], "register", "notification complete; presumption applies", "regulator")
        session.commit()
    assert decided["state"] == "registered"
    assert decided["registration_number"] == f"CTR-{decided['registered_at'].year}-000001"
    with Session(engine) as session:
        report = report_from_db(session, SYSTEM_SCOPE)
        assert audit.verify(session).ok
    eu_flag = next(f for s in report["systems"] for f in s["flags"] if f["regime"] == EU)
    assert eu_flag["obligation"] == {"state": "registered", "registration_number": decided["registration_number"]}


def test_contest_goes_to_not_designated_with_reasons_kept_and_audited(engine: Engine, settings_env: object) -> None:
    llama = add_llama(engine)
    run_evaluation(engine, AS_OF, actor="test")
    arguments = ("Despite 3.8e25 FLOP the model's capabilities match, not exceed, the state of the art "
                 "(Art. 52(2)); benchmark results attached.")
    row = submit_registration(engine, provider="meta", system="Llama 3.1 405B", regime=EU, channel="api",
                              submitted_by="api:meta", contest_text=arguments)
    assert row["state"] == "contested"
    with Session(engine) as session:
        asked = decide(session, row["id"], "request_info", "send the benchmark protocol", "regulator")
        session.commit()
    assert asked["state"] == "contested"
    supplement = submit_registration(engine, provider="meta", system="Llama 3.1 405B", regime=EU,
                                     channel="portal", submitted_by="meta-user", contest_text="protocol v2")
    assert supplement["state"] == "contested"
    with Session(engine) as session:
        final = decide(session, row["id"], "accept_contest", "arguments substantiated; not designated", "regulator")
        session.commit()
    assert final["state"] == "not_designated" and final["registration_number"] is None
    with Session(engine) as session:
        events = session.exec(select(RegistrationEvent).where(RegistrationEvent.registration_id == row["id"])
                              .order_by(col(RegistrationEvent.id))).all()
        audited = session.exec(select(AuditEvent).where(AuditEvent.entity == "registration",
                                                        AuditEvent.entity_id == str(row["id"]))
                               .order_by(col(AuditEvent.id))).all()
        kinds = [s.kind for s in session.exec(select(RegistrationSubmission).order_by(
            col(RegistrationSubmission.id))).all()]
        flag = session.exec(select(Flag).where(Flag.subject_id == llama, Flag.regime_id == EU)).one()
    assert [(e.action, e.to_state) for e in events] == [
        ("open", "due"), ("contest", "contested"), ("request_info", "contested"), ("supplement", "contested"),
        ("accept_contest", "not_designated")]
    assert events[-1].reason == "arguments substantiated; not designated"
    assert [a.action for a in audited] == ["registration.open", "registration.contest", "registration.request_info",
                                           "registration.supplement", "registration.accept_contest"]
    assert json.loads(audited[-1].details_json)["reason"] == "arguments substantiated; not designated"
    assert kinds == ["contest", "information"]
    assert flag.notified_at is not None  # contesting meets the deadline too


@pytest.mark.parametrize("decision, expected", [
    ("accept_contest", "'accept_contest' is not allowed on a registration in state 'submitted'"),
    ("register", "'register' is not allowed on a registration in state 'due'"),
])
def test_invalid_transitions_are_refused_with_a_sentence(engine: Engine, settings_env: object, decision: str,
                                                         expected: str) -> None:
    llama = add_llama(engine)
    run_evaluation(engine, AS_OF, actor="test")
    registration = _registration(engine, llama)
    if decision == "accept_contest":
        submit_registration(engine, provider="meta", system="Llama 3.1 405B", regime=EU, channel="cli",
                            submitted_by="cli")
    with Session(engine) as session, pytest.raises(RegistrationRejected) as refused:
        decide(session, registration.id or 0, decision, "because", "regulator")
    assert expected in str(refused.value)
    assert refused.value.problems[0].column == "decision"
    assert _registration(engine, llama).state == ("submitted" if decision == "accept_contest" else "due")


def test_a_decision_needs_a_written_reason(engine: Engine, settings_env: object) -> None:
    llama = add_llama(engine)
    run_evaluation(engine, AS_OF, actor="test")
    submit_registration(engine, provider="meta", system="Llama 3.1 405B", regime=EU, channel="cli", submitted_by="c")
    registration = _registration(engine, llama)
    with Session(engine) as session, pytest.raises(RegistrationRejected, match="reason: is missing"):
        decide(session, registration.id or 0, "register", "  ", "regulator")
    assert _registration(engine, llama).state == "submitted"


def test_concurrent_decisions_get_unique_consecutive_numbers(engine: Engine, settings_env: object) -> None:
    import threading

    names = [f"frontier-{i}" for i in range(6)]
    for name in names:
        add_llama(engine, provider="meta", name=name)
    run_evaluation(engine, AS_OF, actor="test")
    ids = [submit_registration(engine, provider="meta", system=name, regime=EU, channel="cli",
                               submitted_by="c")["id"] for name in names]
    barrier = threading.Barrier(len(ids))
    numbers: list[str] = []
    errors: list[BaseException] = []

    def register(registration_id: int) -> None:
        try:
            barrier.wait(timeout=30)
            with Session(engine) as session:
                numbers.append(decide(session, registration_id, "register", "complete", "regulator")
                               ["registration_number"])
                session.commit()
        except BaseException as exc:  # reported below, with the thread's failure
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    year = numbers[0][4:8]
    assert sorted(numbers) == [f"CTR-{year}-{n:06d}" for n in range(1, len(ids) + 1)]


def test_registered_gets_a_certificate_and_the_public_register_only_public_fields(engine: Engine,
                                                                                   settings_env: object) -> None:
    from tracker.auth.scope import Scope
    from tracker.registration.withdraw import withdraw_registration
    from tracker.store.models import Certificate
    from tracker.store.queries.registrations import (
        list_registrations,
        public_register,
        registration_detail,
        review_queue,
    )

    add_llama(engine)
    add_small(engine, "rival", "rival-7b")
    run_evaluation(engine, AS_OF, actor="test")
    row = submit_registration(engine, provider="meta", system="Llama 3.1 405B", regime=EU, channel="portal",
                              submitted_by="meta-user", compute_flop=3.81e25, compute_method="hardware",
                              contact="regulatory@meta.example")
    regulator = Scope(actor="reg", role="regulator")
    rival = Scope(actor="rival-user", role="provider", provider_id=_provider_id(engine, "rival"))
    with Session(engine) as session:
        assert [r["id"] for r in review_queue(session, regulator)] == [row["id"]]
        assert review_queue(session, rival) == []
        assert registration_detail(session, rival, row["id"]) is None  # another provider's: as if missing
        assert list_registrations(session, rival) == []
        decided = decide(session, row["id"], "register", "presumption applies", "regulator")
        session.commit()
    with Session(engine) as session:
        certificate = session.exec(select(Certificate).where(Certificate.registration_id == row["id"])).one()
        public = public_register(session)
        found = public_register(session, search="llama 3.1")
        none = public_register(session, search="%")  # a LIKE wildcard is searched for, not expanded
    assert certificate.status == "valid" and certificate.registration_number == decided["registration_number"]
    assert [p["registration_number"] for p in public] == [decided["registration_number"]] == \
        [p["registration_number"] for p in found]
    assert none == []
    entry = public[0]
    assert entry["provider_slug"] == "meta" and entry["threshold"] == 1e25 and entry["certificate_status"] == "valid"
    text = json.dumps(entry, default=str)
    for secret in ("3.81e+25", "38100000000000000000000000", "regulatory@meta.example", "hardware", "meta-user",
                   "presumption applies"):
        assert secret not in text

    withdrawn = withdraw_registration(engine, row["id"], provider="meta", actor="meta-user",
                                      reason="model retired")
    assert withdrawn["state"] == "withdrawn"
    with Session(engine) as session:
        certificate = session.exec(select(Certificate).where(Certificate.registration_id == row["id"])).one()
        assert certificate.status == "revoked"
        assert public_register(session) == []


def _provider_id(engine: Engine, slug: str) -> int:
    from tracker.store.models import Provider

    with Session(engine) as session:
        provider = session.exec(select(Provider).where(Provider.slug == slug)).one()
        assert provider.id is not None
        return provider.id
