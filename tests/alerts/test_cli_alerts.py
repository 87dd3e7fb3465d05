"""`tracker alerts ...` end to end on the database selected by TRACKER_DATABASE_URL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from tracker.alerts.ack import AlertNotFound, acknowledge
from tracker.alerts.outbox import enqueue
from tracker.cli.main import app
from tracker.config import get_settings
from tracker.store import audit
from tracker.store.models import AuditEvent

runner = CliRunner()


def _alert(engine: Engine) -> int:
    with Session(engine) as session:
        alert = enqueue(session, kind="filing_rejected", idempotency_key="rejected:F-9",
                        payload={"accession": "F-9", "errors": ["row 2, stage: unknown"]},
                        settings=get_settings())
        assert alert is not None and alert.id is not None
        session.commit()
        return alert.id


def test_list_dispatch_and_ack(settings_env: Path, engine: Engine, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "alerts.jsonl"
    monkeypatch.setenv("TRACKER_ALERT_LOG_PATH", str(log))
    get_settings.cache_clear()
    alert_id = _alert(engine)

    listed = runner.invoke(app, ["alerts", "--format", "json"])
    assert listed.exit_code == 0, listed.output
    [row] = json.loads(listed.output)["alerts"]
    assert row["id"] == alert_id and row["delivery_state"] == "pending"
    assert row["url"].endswith("/filings/F-9") and row["errors"] == ["row 2, stage: unknown"]

    dispatched = runner.invoke(app, ["alerts", "dispatch"])
    assert dispatched.exit_code == 0 and "1 delivered" in dispatched.output
    assert json.loads(log.read_text())["id"] == alert_id

    acked = runner.invoke(app, ["alerts", "ack", str(alert_id), "--by", "desk officer"])
    assert acked.exit_code == 0 and "acknowledged by desk officer" in acked.output
    table = runner.invoke(app, ["alerts"], env={"COLUMNS": "200"})  # wide: no cell wraps
    assert "filing rejected" in table.output and "delivered" in table.output
    assert "desk officer" in table.output

    missing = runner.invoke(app, ["alerts", "ack", "999"])
    assert missing.exit_code != 0


def test_subscribe_and_list_subscriptions(settings_env: Path) -> None:
    ok = runner.invoke(app, ["alerts", "subscribe", "email:eu@reg.example", "--regime", "eu"])
    assert ok.exit_code == 0 and "alerts about regime eu" in ok.output
    bad = runner.invoke(app, ["alerts", "subscribe", "email:x@y", "--regime", "eu", "--system", "1"])
    assert bad.exit_code != 0
    listed = runner.invoke(app, ["alerts", "subscriptions"])
    assert "email:eu@reg.example\talerts about regime eu" in listed.output


def test_acknowledge_is_audit_logged_once(engine: Engine, settings_env: Path) -> None:
    alert_id = _alert(engine)
    with Session(engine, expire_on_commit=False) as session:
        first = acknowledge(session, alert_id, actor="alice")
        again = acknowledge(session, alert_id, actor="bob")
        session.commit()
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "alert.ack")).all()
        assert audit.verify(session).ok
        with pytest.raises(AlertNotFound):
            acknowledge(session, 12345, actor="alice")
    assert first.acknowledged_by == again.acknowledged_by == "alice"
    assert first.acknowledged_at is not None
    assert [(e.actor, e.entity_id) for e in events] == [("alice", str(alert_id))]
