"""Deadline reminders: 7 days, 1 day, overdue; never twice; none once the provider notified."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from alert_factories import flag, provider_and_system, regime, settings_for
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.alerts.reminders import Due, due_reminders, remind_deadlines, reminder_kind
from tracker.store.models import Alert
from tracker.store.types import utcnow

TODAY = date(2026, 12, 1)


def test_reminder_kind_by_days_left() -> None:
    kinds = {days: reminder_kind(TODAY + timedelta(days=days), TODAY) for days in range(-2, 10)}
    assert kinds == {-2: "overdue", -1: "overdue", 0: "deadline_1d", 1: "deadline_1d",
                     2: "deadline_7d", 7: "deadline_7d", 8: None, 9: None,
                     3: "deadline_7d", 4: "deadline_7d", 5: "deadline_7d", 6: "deadline_7d"}


def test_reminders_are_sent_once_and_not_after_notification(engine: Engine, db_url: str) -> None:
    settings = settings_for(db_url)
    with Session(engine, expire_on_commit=False) as session:
        _, a = provider_and_system(session, slug="acme", name="a")
        _, b = provider_and_system(session, slug="beta", name="b")
        _, c = provider_and_system(session, slug="gamma", name="c")
        _, d = provider_and_system(session, slug="delta", name="d")
        _, e = provider_and_system(session, slug="eps", name="e")
        regime(session, "eu")
        flag(session, a, "eu", TODAY + timedelta(days=5))
        flag(session, b, "eu", TODAY + timedelta(days=1))
        flag(session, c, "eu", TODAY - timedelta(days=3))
        notified = flag(session, d, "eu", TODAY - timedelta(days=3))
        notified.notified_at = utcnow()
        flag(session, e, "eu", None)
        session.commit()

    assert remind_deadlines(engine, settings, TODAY) == 3
    assert remind_deadlines(engine, settings, TODAY) == 0  # re-running never duplicates
    # Four days on, a is one day out and b is overdue: new kinds, so new reminders.
    assert remind_deadlines(engine, settings, TODAY + timedelta(days=4)) == 2

    with Session(engine, expire_on_commit=False) as session:
        alerts = session.exec(select(Alert).order_by(col(Alert.id))).all()
    kinds = [(x.kind, x.system_id) for x in alerts]
    assert kinds == [("deadline_7d", a.id), ("deadline_1d", b.id), ("overdue", c.id),
                     ("deadline_1d", a.id), ("overdue", b.id)]
    body = json.loads(alerts[0].payload_json)
    assert body["deadline"] == "2026-12-06" and body["days_left"] == 5
    assert body["regime"] == "eu" and body["status"] == "above" and body["threshold"] == 1e25
    assert body["training_flop"] == {"central": 3.8e25, "low": 2.9e25, "high": 4.9e25}
    assert alerts[0].idempotency_key == f"deadline_7d:system:{a.id}:eu:2026-12-06"


def test_due_reminders_are_read_from_five_columns_and_keyed_like_the_alerts() -> None:
    rows = [(1, "system", 7, "eu", TODAY + timedelta(days=5)), (2, "system", 8, "eu", TODAY + timedelta(days=30)),
            (3, "cluster", 2, "us-bis", TODAY - timedelta(days=1))]
    assert due_reminders(rows, TODAY) == [Due(1, "deadline_7d:system:7:eu:2026-12-06"),
                                          Due(3, "overdue:cluster:2:us-bis:2026-11-30")]


def test_reminders_already_in_the_outbox_are_skipped_and_the_rest_go_in_batches(
        engine: Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import tracker.alerts.reminders as reminders

    monkeypatch.setattr(reminders, "ENQUEUE_BATCH", 2)  # several short transactions
    settings = settings_for(db_url)
    with Session(engine, expire_on_commit=False) as session:
        regime(session, "eu")
        systems = [provider_and_system(session, slug=f"p{i}", name=f"s{i}")[1] for i in range(6)]
        for system in systems[:5]:
            flag(session, system, "eu", TODAY - timedelta(days=2))
        flag(session, systems[5], "eu", TODAY + timedelta(days=8))  # not due yet: not even read
        session.commit()
    assert remind_deadlines(engine, settings, TODAY) == 5
    assert remind_deadlines(engine, settings, TODAY) == 0
    with Session(engine) as session:
        keys = [a.idempotency_key for a in session.exec(select(Alert).order_by(col(Alert.id))).all()]
    assert keys == [f"overdue:system:{s.id}:eu:2026-11-29" for s in systems[:5]]
