"""Enqueue writes the alert and its deliveries in the caller's transaction, exactly once per key."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from alert_factories import provider_and_system, regime, settings_for
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from tracker.alerts.outbox import INSERT_CHUNK, KEY_MAX_CHARS, AlertRequest, enqueue, enqueue_many
from tracker.alerts.payload import CONTRACT_FIELDS
from tracker.alerts.subscriptions import subscribe
from tracker.store.models import Alert, AlertDelivery, AuditEvent


def _count(session: Session, model: type) -> int:
    return int(session.exec(select(func.count()).select_from(model)).one())


def test_enqueue_rolls_back_with_the_callers_transaction(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url, alert_webhook_url="http://127.0.0.1:9/hook")
    with Session(engine, expire_on_commit=False) as session:
        _, system = provider_and_system(session)
        session.commit()
        system_id = system.id
        alert = enqueue(session, kind="flag_change", idempotency_key="k1", payload={},
                        system_id=system_id, settings=settings)
        assert alert is not None and _count(session, AlertDelivery) == 1
        session.rollback()
    with Session(engine, expire_on_commit=False) as session:
        assert _count(session, Alert) == 0
        assert _count(session, AlertDelivery) == 0
    # ... and the key is free again: nothing half-written blocks a later enqueue.
    with Session(engine, expire_on_commit=False) as session:
        assert enqueue(session, kind="flag_change", idempotency_key="k1", payload={},
                       system_id=system_id, settings=settings) is not None
        session.commit()


def test_enqueue_as_first_statement_rolls_back_too(engine: Engine, db_url: str) -> None:
    # No earlier write has opened the transaction: the alert insert itself must be inside it.
    settings = settings_for(db_url, alert_log_path=Path("/tmp/unused.jsonl"))
    with Session(engine, expire_on_commit=False) as session:
        assert enqueue(session, kind="overdue", idempotency_key="solo", payload={},
                       settings=settings) is not None
        session.rollback()
    with Session(engine, expire_on_commit=False) as session:
        assert _count(session, Alert) == 0 and _count(session, AlertDelivery) == 0


def test_same_key_is_enqueued_once(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url, alert_webhook_url="http://127.0.0.1:9/hook")
    with Session(engine, expire_on_commit=False) as session:
        first = enqueue(session, kind="discrepancy", idempotency_key="dup", payload={"ratio": 2.0},
                        settings=settings)
        second = enqueue(session, kind="discrepancy", idempotency_key="dup", payload={},
                         settings=settings)
        session.commit()
    with Session(engine, expire_on_commit=False) as session:
        third = enqueue(session, kind="discrepancy", idempotency_key="dup", payload={},
                        settings=settings)
        session.commit()
        assert first is not None and second is None and third is None
        assert _count(session, Alert) == 1 and _count(session, AlertDelivery) == 1


def test_body_has_every_contract_field_and_a_dashboard_link(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url, alert_webhook_url="http://127.0.0.1:9/hook")
    with Session(engine, expire_on_commit=False) as session:
        provider, system = provider_and_system(session)
        regime(session, "eu-aia-gpaisr-presumption")
        alert = enqueue(
            session, kind="flag_change", idempotency_key="flag:1", system_id=system.id,
            regime_id="eu-aia-gpaisr-presumption",
            payload={"status": "above", "threshold": 1e25,
                     "training_flop": {"central": 3.8e25, "low": 2.9e25, "high": 4.9e25}},
            settings=settings,
        )
        rejected = enqueue(session, kind="filing_rejected", idempotency_key="rej:F-1",
                           provider_id=provider.id, payload={"accession": "F-1"}, settings=settings)
        session.commit()
    assert alert is not None and rejected is not None
    body = json.loads(alert.payload_json)
    assert set(CONTRACT_FIELDS) <= set(body)
    assert body["id"] == alert.id and body["kind"] == "flag_change"
    assert (body["provider"], body["system"], body["version"]) == ("acme", "acme-lm", "2")
    assert body["regime"] == "eu-aia-gpaisr-presumption" and body["status"] == "above"
    assert body["training_flop"] == {"central": 3.8e25, "low": 2.9e25, "high": 4.9e25}
    assert body["deadline"] is None
    assert body["url"] == f"https://tracker.example/systems/{system.id}"
    other = json.loads(rejected.payload_json)
    assert other["url"] == "https://tracker.example/filings/F-1"
    assert other["training_flop"] == {"central": None, "low": None, "high": None}
    assert other["provider"] == "acme" and other["system"] is None


def test_alert_about_nothing_links_to_itself(engine: Engine, db_url: str) -> None:
    with Session(engine, expire_on_commit=False) as session:
        alert = enqueue(session, kind="overdue", idempotency_key="x", payload={},
                        settings=settings_for(db_url))
        session.commit()
    assert alert is not None
    assert json.loads(alert.payload_json)["url"] == f"https://tracker.example/alerts/{alert.id}"


def test_subscriptions_choose_the_sinks(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url, alert_email_to="desk@reg.example, chief@reg.example",
                            alert_log_path=Path("/var/log/alerts.jsonl"))
    with Session(engine, expire_on_commit=False) as session:
        _, system = provider_and_system(session)
        provider_and_system(session, slug="other", name="other-lm")
        regime(session, "eu")
        subscribe(session, "webhook:https://all.example/h", actor="t")
        subscribe(session, "email:eu@reg.example", scope_kind="regime", scope_value="eu", actor="t")
        subscribe(session, "email:us@reg.example", scope_kind="regime", scope_value="us", actor="t")
        subscribe(session, "email:acme@reg.example", scope_kind="provider", scope_value="acme",
                  actor="t")
        subscribe(session, "email:sys@reg.example", scope_kind="system", scope_value=str(system.id),
                  actor="t")
        subscribe(session, "email:desk@reg.example", actor="t")  # also configured: one delivery
        alert = enqueue(session, kind="flag_change", idempotency_key="s", payload={},
                        system_id=system.id, regime_id="eu", settings=settings)
        assert alert is not None
        sinks = session.exec(select(AlertDelivery.sink).where(AlertDelivery.alert_id == alert.id)
                             .order_by(col(AlertDelivery.id))).all()
        assert _count(session, AuditEvent) == 6  # every subscription is audit-logged
        session.commit()
    assert sinks == [
        "email:desk@reg.example", "email:chief@reg.example", "log:/var/log/alerts.jsonl",
        "webhook:https://all.example/h", "email:eu@reg.example", "email:acme@reg.example",
        "email:sys@reg.example",
    ]


def test_unknown_kind_and_bad_sinks_are_refused(engine: Engine, db_url: str) -> None:
    with Session(engine, expire_on_commit=False) as session:
        with pytest.raises(ValueError, match="unknown alert kind"):
            enqueue(session, kind="nope", idempotency_key="k", payload={},
                    settings=settings_for(db_url))
        with pytest.raises(ValueError, match="webhook:<url>"):
            subscribe(session, "carrier-pigeon:roof", actor="t")
        with pytest.raises(ValueError, match="http"):
            subscribe(session, "webhook:ftp://x", actor="t")


def test_long_keys_stay_unique_within_the_column(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url)
    a, b = "k" * 200 + "a", "k" * 200 + "b"
    with Session(engine, expire_on_commit=False) as session:
        first = enqueue(session, kind="overdue", idempotency_key=a, payload={}, settings=settings)
        second = enqueue(session, kind="overdue", idempotency_key=b, payload={}, settings=settings)
        again = enqueue(session, kind="overdue", idempotency_key=a, payload={}, settings=settings)
        session.commit()
    assert first is not None and second is not None and again is None
    assert len(first.idempotency_key) == KEY_MAX_CHARS


def _sinks(session: Session, alert_id: int | None) -> list[str]:
    return list(session.exec(select(AlertDelivery.sink).where(AlertDelivery.alert_id == alert_id)
                             .order_by(col(AlertDelivery.id))).all())


def test_enqueue_many_writes_what_enqueue_writes_once_per_key(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url, alert_webhook_url="http://127.0.0.1:9/hook")
    with Session(engine, expire_on_commit=False) as session:
        acme, system = provider_and_system(session)
        _, other = provider_and_system(session, slug="other", name="other-lm", version="1")
        regime(session, "eu")
        subscribe(session, "email:eu@reg.example", scope_kind="regime", scope_value="eu", actor="t")
        subscribe(session, "email:other@reg.example", scope_kind="provider", scope_value="other", actor="t")
        assert enqueue(session, kind="overdue", idempotency_key="old", payload={}, settings=settings)
        ids = enqueue_many(session, [
            AlertRequest("flag_change", "flag:a", {"status": "above"}, system_id=system.id, regime_id="eu"),
            AlertRequest("flag_change", "flag:b", {"status": "likely_above"}, system_id=other.id, regime_id="us"),
            AlertRequest("flag_change", "flag:a", {"status": "below"}, system_id=system.id, regime_id="eu"),
            AlertRequest("overdue", "old", {}),
            AlertRequest("filing_rejected", "rej:F-2", {"accession": "F-2"}, provider_id=acme.id),
        ], settings)
        session.commit()
        # A key repeated in the batch, or enqueued before, is written once.
        assert ids[2] is None and ids[3] is None
        assert None not in (ids[0], ids[1], ids[4]) and len({ids[0], ids[1], ids[4]}) == 3
        assert _count(session, Alert) == 4
        bodies = {i: json.loads(session.get(Alert, i).payload_json) for i in (ids[0], ids[1], ids[4])}  # type: ignore[union-attr]
        assert _sinks(session, ids[0]) == ["webhook:http://127.0.0.1:9/hook", "email:eu@reg.example"]
        assert _sinks(session, ids[1]) == ["webhook:http://127.0.0.1:9/hook", "email:other@reg.example"]
        assert _sinks(session, ids[4]) == ["webhook:http://127.0.0.1:9/hook"]
    first, second, rejected = bodies[ids[0]], bodies[ids[1]], bodies[ids[4]]
    assert set(CONTRACT_FIELDS) <= set(first) and first["id"] == ids[0]
    # The first request of a repeated key wins; names and slugs are looked up as enqueue does.
    assert (first["provider"], first["system"], first["version"], first["status"]) == ("acme", "acme-lm", "2", "above")
    assert (second["provider"], second["system"], second["regime"]) == ("other", "other-lm", "us")
    assert first["url"] == f"https://tracker.example/systems/{system.id}"
    assert (rejected["provider"], rejected["url"]) == ("acme", "https://tracker.example/filings/F-2")


def test_enqueue_many_spans_several_insert_batches(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url, alert_webhook_url="http://127.0.0.1:9/hook")
    count = 2 * INSERT_CHUNK + 7
    with Session(engine, expire_on_commit=False) as session:
        _, system = provider_and_system(session)
        ids = enqueue_many(session, [AlertRequest("flag_change", f"flag:{n}", {"n": n}, system_id=system.id)
                                     for n in range(count)], settings)
        session.commit()
        assert None not in ids and len(set(ids)) == count
        assert _count(session, Alert) == _count(session, AlertDelivery) == count
        # Each id is its own request's alert (RETURNING rows come back in no promised order).
        picked = [0, INSERT_CHUNK, count - 1]
        assert [json.loads(session.get(Alert, ids[n]).payload_json)["n"] for n in picked] == picked  # type: ignore[union-attr]



@pytest.mark.parametrize("case", [test_enqueue_many_writes_what_enqueue_writes_once_per_key,
                                  test_enqueue_many_spans_several_insert_batches])
def test_enqueue_many_through_copy_writes_what_the_statement_path_writes(
    engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch, case: Callable[[Engine, str], None]
) -> None:
    """On PostgreSQL a large batch is copied in (ids drawn first, payload written with its alert):
    the same alerts, payloads, deliveries and returned ids as the statement path, checked by
    running the tests above with every batch taking that path."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the COPY path is PostgreSQL's")
    import tracker.alerts.outbox as outbox

    monkeypatch.setattr(outbox, "COPY_ABOVE", 1)
    case(engine, db_url)
