"""Account administration and alert sinks on the Admin page, through forged callbacks: the role
check is on the server, every change is audited and ends the account's sessions, and a ``log:``
sink stays inside the alert log folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session, select

from tests.dashboard import factories
from tests.web.conftest import Site, callback, sign_in
from tracker.alerts.subscriptions import log_sink_path, subscribe
from tracker.config import Settings
from tracker.store.models import AuditEvent, Subscription, User

SINKS = "..sink-result.children...sinks.children.."


def _manage_output(client: FlaskClient) -> str:
    """Dash's key of the account-change callback (its second output is a duplicate, hence hashed)."""
    dependencies = client.get("/_dash-dependencies").json
    [key] = [d["output"] for d in dependencies if "manage-result.children" in d["output"]]
    assert isinstance(key, str)
    return key


def manage(client: FlaskClient, username: Any, action: Any, *, role: Any = None, provider: Any = None,
           password: Any = None) -> str:
    response = callback(client, _manage_output(client), [("manage-user", "n_clicks", 1)],
                        [("manage-username", "value", username), ("manage-action", "value", action),
                         ("manage-role", "value", role), ("manage-provider", "value", provider),
                         ("manage-password", "value", password)])
    assert response.status_code == 200, response.text
    return json.dumps(response.json["response"]["manage-result"]["children"])


def user(site: Site, username: str) -> User:
    with Session(site.engine) as session:
        return session.exec(select(User).where(User.username == username)).one()


def audited(site: Site, action: str) -> list[dict[str, Any]]:
    with Session(site.engine) as session:
        rows = session.exec(select(AuditEvent).where(AuditEvent.action == action)).all()
    return [json.loads(row.details_json) | {"actor": row.actor} for row in rows]


def signed_in(client: FlaskClient) -> bool:
    return client.get("/systems").status_code == 200


@pytest.mark.parametrize("who", ["acme-user", "reg"])
def test_only_administrators_change_accounts(site: Site, who: str) -> None:
    client = site.login(who)
    victim = site.login("rival-user")
    for action, extra in (("disable", {}), ("reset_password", {"password": "taken over by a forger"}),
                          ("set_role", {"role": "admin"})):
        assert "administrator accounts" in manage(client, "rival-user", action, **extra)
    assert user(site, "rival-user").role == "provider" and not user(site, "rival-user").disabled
    assert signed_in(victim)
    assert user(site, who).role != "admin"  # nor can the forger promote itself
    assert "administrator accounts" in manage(client, who, "set_role", role="admin")
    assert user(site, who).role != "admin"


def test_admin_disables_and_enables_an_account(site: Site) -> None:
    admin = site.login("admin")
    victim = site.login("acme-user")
    assert "disabled" in manage(admin, "acme-user", "disable")
    assert user(site, "acme-user").disabled and not signed_in(victim)
    assert sign_in(site.client(), "acme-user", factories.PASSWORD).status_code == 401
    assert "enabled" in manage(admin, "acme-user", "enable")
    assert sign_in(site.client(), "acme-user", factories.PASSWORD).status_code == 302
    [entry] = audited(site, "user.disable")
    assert entry["actor"] == "admin" and entry["username"] == "acme-user" and entry["sessions_ended"] >= 1
    assert len(audited(site, "user.enable")) == 1


def test_admin_changes_a_role_and_resets_a_password(site: Site) -> None:
    admin = site.login("admin")
    victim = site.login("acme-user")
    message = manage(admin, "acme-user", "set_role", role="provider")
    assert "Change role" in message and "needs a provider" in message
    assert "given a new role" in manage(admin, "acme-user", "set_role", role="regulator")
    assert user(site, "acme-user").role == "regulator" and user(site, "acme-user").provider_id is None
    assert not signed_in(victim)
    assert "at least 12 characters" in manage(admin, "reg", "reset_password", password="short")
    reg = site.login("reg")
    assert "new password" in manage(admin, "reg", "reset_password", password="handed over in person")
    assert not signed_in(reg)
    assert sign_in(site.client(), "reg", factories.PASSWORD).status_code == 401
    assert sign_in(site.client(), "reg", "handed over in person").status_code == 302
    assert [e["username"] for e in audited(site, "user.reset_password")] == ["reg"]
    assert audited(site, "user.set_role")[0]["to"] == "regulator"


def test_the_last_administrator_cannot_lock_everyone_out(site: Site) -> None:
    admin = site.login("admin")
    assert "last enabled administrator" in manage(admin, "admin", "disable")
    assert "last enabled administrator" in manage(admin, "admin", "set_role", role="regulator")
    assert signed_in(admin) and user(site, "admin").role == "admin"


@pytest.mark.parametrize(("username", "action", "expected"), [
    (None, "disable", "Username: enter"), (["acme-user"], "disable", "Username: enter"),
    (12, "disable", "Username: enter"), ("nobody-here", "disable", "no account named"),
    ("acme-user", "drop_table", "Action: choose one of"), ("acme-user", ["disable"], "Action: choose one of"),
    ("acme-user", "set_role", "unknown role"),
])
def test_malformed_account_inputs_are_refused_with_a_reason(site: Site, username: Any, action: Any,
                                                            expected: str) -> None:
    admin = site.login("admin")
    assert expected in manage(admin, username, action)
    assert not user(site, "acme-user").disabled


def _add_sink(client: FlaskClient, sink: str) -> str:
    response = callback(client, SINKS, [("add-sink", "n_clicks", 1), [("dummy", "n_clicks", None)]],
                        [("new-sink", "value", sink), ("new-sink-scope", "value", "all"),
                         ("new-sink-value", "value", None)], triggered=("add-sink", "n_clicks", 1))
    assert response.status_code == 200, response.text
    return json.dumps(response.json["response"]["sink-result"]["children"])


def test_log_sinks_stay_inside_the_alert_log_folder(site: Site, tmp_path: Path) -> None:
    log_dir = Path(site.app.extensions["tracker_settings"].alert_log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    outside = tmp_path / "outside.jsonl"
    link = log_dir / f"escape-{tmp_path.name}.jsonl"
    link.symlink_to(outside)
    try:
        admin = site.login("admin")
        for sink in ("log:../../../etc/cron.d/evil", f"log:{outside}", "log:/etc/passwd", f"log:{link.name}",
                     "log:sub/../../x.jsonl", "log:.", "log:a\x00b", "log:a\nb"):
            message = _add_sink(admin, sink)
            assert "alert log folder" in message or "control characters" in message, (sink, message)
        assert "Sink added" in _add_sink(admin, "log:alerts.jsonl")
        assert "Sink added" in _add_sink(admin, f"log:{log_dir / 'team' / 'eu.jsonl'}")
        with Session(site.engine) as session:
            stored = {s.sink for s in session.exec(select(Subscription)).all()}
        assert stored == {"log:alerts.jsonl", f"log:{log_dir / 'team' / 'eu.jsonl'}"}
        assert not outside.exists()
    finally:
        link.unlink()


def test_log_sink_rules_hold_for_the_cli_path_too(engine: Any, tmp_path: Path) -> None:
    settings = Settings(alert_log_dir=tmp_path / "logs")
    with Session(engine) as session:
        with pytest.raises(ValueError, match="outside the alert log folder"):
            subscribe(session, "log:../x.jsonl", actor="cli", settings=settings)
        subscribe(session, "log:ok.jsonl", actor="cli", settings=settings)
    assert log_sink_path("ok.jsonl", tmp_path / "logs") == (tmp_path / "logs" / "ok.jsonl").resolve()
