"""``log:`` sinks write inside TRACKER_ALERT_LOG_DIR only, checked again at delivery; the
operator's TRACKER_ALERT_LOG_PATH may be anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tracker.alerts.sinks import DeliveryError, Outgoing, append_log, send
from tracker.alerts.subscriptions import configured_sinks
from tracker.config import Settings

MESSAGE = Outgoing(alert_id=7, alert_key="flag:1", body=json.dumps({"id": 7, "kind": "flag_changed"}))


def _settings(tmp_path: Path) -> Settings:
    return Settings(alert_log_dir=tmp_path / "logs", alert_log_path=tmp_path / "operator" / "all.jsonl")


def test_a_stored_escape_is_refused_at_delivery(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    # A subscription stored before the folder rule existed is still refused when delivered.
    for sink in ("log:../escape.jsonl", f"log:{tmp_path / 'escape.jsonl'}"):
        with pytest.raises(DeliveryError, match="outside the alert log folder"):
            send(sink, MESSAGE, settings)
    assert not (tmp_path / "escape.jsonl").exists()


def test_inside_the_folder_and_the_operators_path_are_delivered(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    send("log:eu/alerts.jsonl", MESSAGE, settings)
    for sink in configured_sinks(settings):
        send(sink, MESSAGE, settings)
    for path in (tmp_path / "logs" / "eu" / "alerts.jsonl", tmp_path / "operator" / "all.jsonl"):
        assert json.loads(path.read_text()) == {"id": 7, "kind": "flag_changed"}


def test_a_link_planted_in_the_folder_is_not_followed(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    (tmp_path / "logs").mkdir()
    target = tmp_path / "elsewhere.txt"
    link = tmp_path / "logs" / "planted.jsonl"
    link.symlink_to(target)
    with pytest.raises(DeliveryError, match="outside the alert log folder"):
        send("log:planted.jsonl", MESSAGE, settings)
    # A link swapped in between the check and the write is not followed either.
    with pytest.raises(DeliveryError):
        append_log(link, MESSAGE, follow_symlinks=False)
    assert not target.exists()
