"""A rejected filing raises an alert in the rejection's own transaction; an accepted one does not."""

from __future__ import annotations

import json

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.config import get_settings
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import file_disclosure
from tracker.store.models import Alert, AlertDelivery

BAD = b"system,run_id,accelerator,accelerator_count,training_hours\nacme-lm,r1,H100,-8,10\n"
GOOD = b"system,run_id,reported_flop\nacme-lm,r1,1e24\n"


def test_rejected_filing_alert_carries_accession_errors_and_link(engine: Engine, settings_env: object,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKER_ALERT_LOG_PATH", "/dev/null")
    get_settings.cache_clear()
    rejected = file_disclosure(engine, content=BAD, filename="runs.csv", kind="training_runs",
                               provider_slug="acme", filed_by="test", channel="cli")
    accepted = file_disclosure(engine, content=GOOD, filename="ok.csv", kind="training_runs",
                               provider_slug="acme", filed_by="test", channel="cli")
    assert isinstance(rejected, Rejection) and isinstance(accepted, Receipt)
    with Session(engine) as session:
        alerts = session.exec(select(Alert)).all()
        deliveries = session.exec(select(AlertDelivery)).all()
    assert [a.kind for a in alerts] == ["filing_rejected"]
    body = json.loads(alerts[0].payload_json)
    assert body["accession"] == rejected.accession and body["provider"] == "acme"
    assert body["url"].endswith(f"/filings/{rejected.accession}")
    assert body["first_errors"][0].startswith("row 1, accelerator_count: -8 is negative")
    assert [d.sink for d in deliveries] == ["log:/dev/null"]
