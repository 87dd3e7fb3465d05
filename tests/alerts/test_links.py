"""Alert links follow the served address unless a base URL is configured (tracker.alerts.links)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alert_factories import provider_and_system
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tracker.alerts.links import configured, link_base_url, record_served_address, served_url
from tracker.alerts.outbox import AlertRequest, enqueue_many
from tracker.alerts.payload import registration_payload
from tracker.config import Settings
from tracker.store.models import Alert


def _unconfigured(db_url: str, record: Path) -> Settings:
    """Settings as a fresh checkout has them: no base URL set, so the default stands."""
    return Settings(database_url=db_url, environment="test", served_address_path=record)


def test_without_a_base_url_links_follow_the_recorded_address(tmp_path: Path) -> None:
    record = tmp_path / "runtime" / "served-address.json"
    settings = _unconfigured("sqlite:///one.db", record)
    assert not configured(settings)
    assert link_base_url(settings) == "http://127.0.0.1:8050"  # nothing served yet: the default
    assert record_served_address(settings, "127.0.0.1", 8123) == "http://127.0.0.1:8123"
    assert link_base_url(settings) == "http://127.0.0.1:8123"
    # Another database's server records its own address without redirecting this one's links.
    other = _unconfigured("sqlite:///two.db", record)
    record_served_address(other, "0.0.0.0", 9001)
    assert (link_base_url(settings), link_base_url(other)) == ("http://127.0.0.1:8123", "http://127.0.0.1:9001")
    assert "one.db" not in record.read_text()  # the database is named by a hash, never by its URL
    record_served_address(settings, "127.0.0.1", 8124)  # restarted on another port: the newest wins
    assert link_base_url(settings) == "http://127.0.0.1:8124"


def test_a_configured_base_url_always_wins_and_records_nothing(tmp_path: Path) -> None:
    record = tmp_path / "served-address.json"
    record_served_address(_unconfigured("sqlite:///one.db", record), "127.0.0.1", 8123)
    settings = Settings(database_url="sqlite:///one.db", environment="test", served_address_path=record,
                        base_url="https://tracker.example/")
    assert configured(settings)
    assert record_served_address(settings, "127.0.0.1", 9999) is None
    assert link_base_url(settings) == "https://tracker.example"
    assert "9999" not in record.read_text()


def test_an_unreadable_or_unwritable_record_falls_back_to_the_default(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    settings = _unconfigured("sqlite:///one.db", blocker / "served-address.json")
    assert record_served_address(settings, "127.0.0.1", 8123) is None  # logged, not raised
    assert link_base_url(settings) == "http://127.0.0.1:8050"
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    assert link_base_url(_unconfigured("sqlite:///one.db", broken)) == "http://127.0.0.1:8050"


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", "http://127.0.0.1:8123"), ("0.0.0.0", "http://127.0.0.1:8123"),
    ("::", "http://127.0.0.1:8123"), ("::1", "http://[::1]:8123"), ("tracker.local", "http://tracker.local:8123"),
])
def test_the_served_url_is_one_a_browser_opens(host: str, expected: str) -> None:
    assert served_url(host, 8123) == expected


def test_alerts_enqueued_after_a_server_started_link_to_its_port(engine: Engine, db_url: str, tmp_path: Path) -> None:
    settings = _unconfigured(db_url, tmp_path / "served-address.json")
    record_served_address(settings, "127.0.0.1", 8123)
    opened = registration_payload(state="due", action="open", registration_id=7, regime="eu", threshold=1e25,
                                  deadline=None, registration_number=None, obligation="notify", voluntary=False,
                                  reason=None, base_url=link_base_url(settings))
    with Session(engine, expire_on_commit=False) as session:
        _, system = provider_and_system(session)
        requests = [AlertRequest(kind="flag_change", idempotency_key="link-1", payload={}, system_id=system.id),
                    AlertRequest(kind="registration", idempotency_key="link-2", payload=opened, system_id=system.id)]
        ids = enqueue_many(session, requests, settings)
        session.commit()
        urls = [json.loads(session.get(Alert, i).payload_json)["url"] for i in ids if i]  # type: ignore[union-attr]
    assert urls == [f"http://127.0.0.1:8123/systems/{system.id}", "http://127.0.0.1:8123/registrations?id=7"]
