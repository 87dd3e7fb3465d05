"""Delivery loses nothing: receivers that die, stall or fail get every alert once they recover."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from alert_factories import settings_for
from receivers import WebhookReceiver
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.alerts import backoff, dispatch, sinks
from tracker.alerts.dispatch import claim, dispatch_pending
from tracker.alerts.outbox import enqueue
from tracker.alerts.signing import verify
from tracker.config import Settings
from tracker.store.models import AlertDelivery
from tracker.store.types import utcnow

SECRET = "test-webhook-secret"


def _enqueue(engine: Engine, settings: Settings, count: int) -> list[int]:
    ids: list[int] = []
    with Session(engine, expire_on_commit=False) as session:
        for n in range(count):
            alert = enqueue(session, kind="overdue", idempotency_key=f"k{n}",
                            payload={"status": "above", "deadline": "2026-12-11"}, settings=settings)
            assert alert is not None and alert.id is not None
            ids.append(alert.id)
        session.commit()
    return ids


def _deliveries(engine: Engine) -> list[AlertDelivery]:
    with Session(engine) as session:
        return list(session.exec(select(AlertDelivery).order_by(col(AlertDelivery.id))).all())


def _assert_all_signed(receiver: WebhookReceiver) -> None:
    for item in receiver.received:
        assert verify(SECRET, item.timestamp, item.body, item.signature), item.key
        assert json.loads(item.body)["id"] == int(item.key.removeprefix("alert-"))


def _later(now: datetime, hours: float = 2) -> datetime:
    return now + timedelta(hours=hours)


def test_receiver_killed_mid_run_gets_every_alert_when_back(engine: Engine, db_url: str) -> None:
    # The receiver answers two alerts, dies while reading the third (so it got it but never
    # confirmed), and is down for the rest of the run; it comes back later on the same port.
    receiver = WebhookReceiver(behaviour=lambda n: "die" if n == 3 else "ok").start()
    settings = settings_for(db_url, alert_webhook_url=receiver.url, alert_webhook_secret=SECRET)
    ids = _enqueue(engine, settings, 6)
    try:
        now = utcnow()
        first = dispatch_pending(engine, settings, now=now)
        assert (first.claimed, first.delivered, first.retrying) == (6, 2, 4)
        assert [d.status for d in _deliveries(engine)].count("pending") == 4

        receiver.behaviour = lambda n: "ok"
        receiver.start()
        second = dispatch_pending(engine, settings, now=_later(now))
        assert (second.delivered, second.retrying) == (4, 0)
    finally:
        receiver.stop()

    assert all(d.status == "delivered" and d.delivered_at for d in _deliveries(engine))
    _assert_all_signed(receiver)
    keys = receiver.keys()
    assert set(keys) == {f"alert-{i}" for i in ids}  # none lost
    # The alert that arrived as the receiver died came again with the same key: dedupe by key.
    assert keys.count(f"alert-{ids[2]}") == 2 and len(keys) == 7


def test_crash_between_send_and_record_resends_the_same_key(
        engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = WebhookReceiver().start()
    settings = settings_for(db_url, alert_webhook_url=receiver.url, alert_webhook_secret=SECRET)
    [alert_id] = _enqueue(engine, settings, 1)

    def die(*_args: object) -> None:
        raise SystemExit("dispatcher killed after the POST, before recording it")

    try:
        now = utcnow()
        monkeypatch.setattr(dispatch, "record_success", die)
        with pytest.raises(SystemExit):
            dispatch_pending(engine, settings, now=now)
        monkeypatch.undo()
        assert receiver.keys() == [f"alert-{alert_id}"]
        [row] = _deliveries(engine)
        assert row.status == "pending" and row.attempts == 1

        # While the lease runs no other dispatcher sends it again ...
        assert dispatch_pending(engine, settings, now=now + timedelta(seconds=30)).claimed == 0
        # ... after it, the alert is sent again, with the same Idempotency-Key.
        report = dispatch_pending(engine, settings, now=now + dispatch.LEASE + timedelta(seconds=1))
        assert report.delivered == 1
    finally:
        receiver.stop()
    assert receiver.keys() == [f"alert-{alert_id}"] * 2
    assert receiver.received[0].body == receiver.received[1].body
    _assert_all_signed(receiver)
    assert _deliveries(engine)[0].status == "delivered"


def test_errors_and_timeouts_are_retried_with_backoff(
        engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sinks, "WEBHOOK_TIMEOUT_S", 0.3)
    receiver = WebhookReceiver(behaviour=lambda n: {1: "error", 2: "slow"}.get(n, "ok"),
                               slow_seconds=1.0).start()
    settings = settings_for(db_url, alert_webhook_url=receiver.url, alert_webhook_secret=SECRET)
    _enqueue(engine, settings, 1)
    try:
        now = utcnow()
        assert dispatch_pending(engine, settings, now=now).retrying == 1
        [row] = _deliveries(engine)
        assert "HTTP 500" in (row.last_error or "")
        delay = (row.next_attempt_at - now).total_seconds()
        assert 0.8 * backoff.BASE_DELAY_S <= delay <= 1.2 * backoff.BASE_DELAY_S
        # Not due yet: nothing is sent before the backoff ends.
        assert dispatch_pending(engine, settings, now=now + timedelta(seconds=10)).claimed == 0

        now = _later(now)
        assert dispatch_pending(engine, settings, now=now).retrying == 1
        [row] = _deliveries(engine)
        assert "Timeout" in (row.last_error or "")
        delay = (row.next_attempt_at - now).total_seconds()
        assert 0.8 * 2 * backoff.BASE_DELAY_S <= delay <= 1.2 * 2 * backoff.BASE_DELAY_S

        assert dispatch_pending(engine, settings, now=_later(now)).delivered == 1
    finally:
        receiver.stop()
    [row] = _deliveries(engine)
    assert (row.status, row.attempts) == ("delivered", 3)
    assert len(set(receiver.keys())) == 1 and len(receiver.keys()) == 3
    _assert_all_signed(receiver)


def test_backoff_grows_exponentially_and_is_capped() -> None:
    import random

    rng = random.Random(7)
    delays = [backoff.delay_seconds(n, rng) for n in range(1, 25)]
    assert 24 <= delays[0] <= 36 and 48 <= delays[1] <= 72
    assert all(d <= backoff.MAX_DELAY_S for d in delays)
    assert delays[-1] >= 0.8 * backoff.MAX_DELAY_S


def test_a_delivery_that_never_succeeds_is_kept_as_dead_and_reported(
        engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backoff, "MAX_ATTEMPTS", 3)
    receiver = WebhookReceiver(behaviour=lambda n: "error").start()
    settings = settings_for(db_url, alert_webhook_url=receiver.url, alert_webhook_secret=SECRET)
    _enqueue(engine, settings, 1)
    try:
        now = utcnow()
        reports = [dispatch_pending(engine, settings, now=_later(now, h)) for h in range(5)]
    finally:
        receiver.stop()
    [row] = _deliveries(engine)
    assert [r.claimed for r in reports] == [1, 1, 1, 0, 0]
    assert reports[2].dead == [row.id] and "dead" in reports[2].summary()
    assert (row.status, row.attempts) == ("dead", 3)
    assert "HTTP 500" in (row.last_error or "")


def test_concurrent_claims_never_share_a_delivery(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url, alert_webhook_url="http://127.0.0.1:9/hook")
    ids = _enqueue(engine, settings, 30)
    now = utcnow()
    barrier = threading.Barrier(3)
    claimed: list[list[int]] = [[], [], []]

    def worker(slot: int) -> None:
        barrier.wait()
        while batch := claim(engine, now, 4):
            claimed[slot].extend(c.delivery_id for c in batch)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    everything = [i for part in claimed for i in part]
    assert sorted(everything) == sorted(d.id for d in _deliveries(engine))
    assert len(everything) == len(set(everything)) == len(ids)


def test_log_sink_appends_one_json_line_per_alert(engine: Engine, db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "logs" / "alerts.jsonl"
    settings = settings_for(db_url, alert_log_path=path)
    ids = _enqueue(engine, settings, 3)
    assert dispatch_pending(engine, settings).delivered == 3
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["id"] for line in lines] == ids
    assert all(line["kind"] == "overdue" and line["url"] for line in lines)


def test_log_sink_failure_is_retried(engine: Engine, db_url: str, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log folder should be")
    settings = settings_for(db_url, alert_log_path=blocker / "alerts.jsonl")
    _enqueue(engine, settings, 1)
    report = dispatch_pending(engine, settings)
    assert report.retrying == 1 and "log" in report.errors[0]


def test_events_are_claimed_before_a_backlog_of_reminders(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url, alert_webhook_url="http://127.0.0.1:9/hook", alert_webhook_secret=SECRET)
    reminders = _enqueue(engine, settings, 5)  # kind "overdue", enqueued first
    with Session(engine, expire_on_commit=False) as session:
        event = enqueue(session, kind="flag_change", idempotency_key="flag-change-1",
                        payload={"status": "above"}, settings=settings)
        session.commit()
    assert event is not None
    first = claim(engine, utcnow() + timedelta(seconds=1), limit=2)
    assert [c.message.alert_id for c in first] == [event.id, reminders[0]]
