"""Server-side sessions: revocable, with an absolute lifetime and an idle timeout, stored hashed."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.dashboard import factories
from tests.web.conftest import ORIGIN, Site, csrf_of, sign_in
from tracker.auth import users
from tracker.store.models import AuditEvent, User, WebSession
from tracker.store.types import utcnow

COOKIE = "tracker_session"


def signed_in(client: FlaskClient) -> bool:
    response = client.get("/systems")
    assert response.status_code in (200, 302), response.status_code
    return response.status_code == 200


def cookie_of(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def replay(site: Site, cookie: str) -> FlaskClient:
    """A new browser presenting a copied cookie (what an attacker who stole it would do)."""
    client = site.client()
    client.set_cookie(COOKIE, cookie)
    return client


def rows_of(site: Site, username: str) -> list[WebSession]:
    with Session(site.engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        return list(session.exec(select(WebSession).where(WebSession.user_id == user.id)).all())


def logout(client: FlaskClient) -> None:
    token = csrf_of_signed_in(client)
    response = client.post("/logout", data={"csrf_token": token}, headers={"Origin": ORIGIN})
    assert response.status_code == 302 and response.headers["Location"] == "/login"


def csrf_of_signed_in(client: FlaskClient) -> str:
    with client.session_transaction() as flask_session:
        token = flask_session["csrf"]
    assert isinstance(token, str)
    return token


def test_logout_ends_the_copied_cookie_and_every_other_session(site: Site) -> None:
    laptop = site.login("acme-user")
    phone = site.login("acme-user")
    stolen = cookie_of(laptop)
    assert signed_in(laptop) and signed_in(phone) and signed_in(replay(site, stolen))
    logout(laptop)
    assert not signed_in(replay(site, stolen))
    assert not signed_in(phone)
    assert all(row.revoked_at is not None and row.revoked_reason == "signed out" for row in rows_of(site, "acme-user"))
    assert signed_in(site.login("acme-user"))  # signing in again works


def test_only_the_hash_of_the_token_is_stored(site: Site) -> None:
    client = site.login("reg")
    with client.session_transaction() as flask_session:
        token = flask_session["sid"]
        assert set(flask_session.keys()) >= {"sid", "csrf"} and "user_id" not in flask_session
    [row] = rows_of(site, "reg")
    assert row.id == hashlib.sha256(token.encode()).hexdigest() and token not in row.id
    # The hash itself is not a credential: presenting it as the token is refused.
    with client.session_transaction() as flask_session:
        flask_session["sid"] = row.id
    assert not signed_in(client)


def _shift(site: Site, username: str, **moves: timedelta) -> None:
    with Session(site.engine) as session:
        for row in session.exec(select(WebSession).join(User).where(User.username == username)).all():
            for field, delta in moves.items():
                setattr(row, field, getattr(row, field) + delta)
            session.add(row)
        session.commit()


def test_absolute_lifetime_is_not_extended_by_activity(site: Site) -> None:
    client = site.login("reg")
    [before] = rows_of(site, "reg")
    assert timedelta(hours=11.9) < before.expires_at - before.created_at <= timedelta(hours=12)
    _shift(site, "reg", last_seen_at=-timedelta(minutes=5))  # old enough to be touched
    assert signed_in(client)
    [after] = rows_of(site, "reg")
    assert after.expires_at == before.expires_at and after.last_seen_at > before.last_seen_at - timedelta(minutes=1)
    _shift(site, "reg", expires_at=-timedelta(hours=12), created_at=-timedelta(hours=12))
    assert not signed_in(client)


def test_idle_session_is_refused(site: Site) -> None:
    client = site.login("reg")
    _shift(site, "reg", last_seen_at=-timedelta(minutes=59))
    assert signed_in(client)  # just inside the 60-minute idle limit (and now touched)
    _shift(site, "reg", last_seen_at=-timedelta(minutes=61))
    assert not signed_in(client)


def test_the_cookie_of_an_ended_session_is_dropped(site: Site) -> None:
    client = site.login("reg")
    _shift(site, "reg", expires_at=-timedelta(days=1))
    assert not signed_in(client)
    with client.session_transaction() as flask_session:
        assert "sid" not in flask_session


def _change_password(client: FlaskClient, current: str, new: str) -> tuple[int, str]:
    page = client.get("/account/password")
    assert page.status_code == 200
    token = csrf_of_signed_in(client)
    response = client.post("/account/password", data={"csrf_token": token, "current": current, "new": new},
                           headers={"Origin": ORIGIN})
    return response.status_code, response.text


def test_changing_ones_password_ends_the_other_sessions(site: Site) -> None:
    here, elsewhere = site.login("acme-user"), site.login("acme-user")
    status, text = _change_password(here, "not the password at all", "a brand new passphrase")
    assert status == 400 and "current password is not right" in text
    status, text = _change_password(here, factories.PASSWORD, "short")
    assert status == 400 and "at least 12 characters" in text
    assert signed_in(elsewhere)  # refused changes end nothing
    status, text = _change_password(here, factories.PASSWORD, "a brand new passphrase")
    assert status == 200 and 'id="password-done"' in text
    assert signed_in(here) and not signed_in(elsewhere)
    assert signed_in(site.login("acme-user", "a brand new passphrase"))
    with Session(site.engine) as session:
        actions = session.exec(select(AuditEvent.action)).all()
    assert "user.change_password" in actions


def test_password_form_needs_csrf_and_a_session(site: Site) -> None:
    anonymous = site.client()
    assert anonymous.get("/account/password").status_code == 302
    client = site.login("reg")
    forged = client.post("/account/password", data={"current": factories.PASSWORD, "new": "x" * 20},
                         headers={"Origin": ORIGIN})
    assert forged.status_code == 400
    cross_site = client.post("/account/password", data={"csrf_token": csrf_of_signed_in(client),
                                                        "current": factories.PASSWORD, "new": "x" * 20},
                             headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403
    assert signed_in(site.login("reg"))  # the password did not change


@pytest.mark.parametrize("action", ["disable", "reset", "role"])
def test_account_administration_ends_every_session(site: Site, action: str) -> None:
    client = site.login("acme-user")
    with Session(site.engine) as session:
        if action == "disable":
            users.set_disabled(session, username="acme-user", disabled=True, actor="admin")
        elif action == "reset":
            users.reset_password(session, username="acme-user", password="reset by the admin!", actor="admin")
        else:
            users.set_role(session, username="acme-user", role="provider", provider_slug="rival", actor="admin")
        session.commit()
    assert not signed_in(client)
    relogin = site.client()
    csrf_of(relogin)
    password = "reset by the admin!" if action == "reset" else factories.PASSWORD
    assert sign_in(relogin, "acme-user", password).status_code == (401 if action == "disable" else 302)


def test_sessions_expire_after_the_configured_lifetime(engine: Engine, db_url: str) -> None:
    from dashboards.components import cache
    from tracker.config import Settings
    from tracker.web.server import create_server

    with Session(engine) as session:
        world = factories.seed_world(session)
        session.commit()
    cache.clear()
    settings = Settings(database_url=db_url, environment="test", secret_key="t" * 40, session_lifetime_hours=1.5)
    site = Site(create_server(settings), world, engine)
    site.login("reg")
    [row] = rows_of(site, "reg")
    assert timedelta(hours=1.4) < row.expires_at - utcnow() <= timedelta(hours=1.5)
    cache.clear()


def test_the_signed_in_shell_links_the_password_page_and_the_anonymous_one_does_not(site: Site) -> None:
    # Dash writes "/" as \u002f in its JSON, so the link is found by its id and its escaped path.
    link = '"href":"\\u002faccount\\u002fpassword"'
    assert link in site.login("acme-user").get("/_dash-layout").text
    assert link not in site.client().get("/_dash-layout").text
