"""Sign-in, sessions, CSRF, the rate limit, the login gate and the security headers."""

from __future__ import annotations

from tests.dashboard import factories
from tests.web.conftest import ORIGIN, Site, csrf_of, sign_in


def test_pages_and_callbacks_need_a_session(site: Site) -> None:
    client = site.client()
    page = client.get("/systems/1")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/systems/1"
    assert client.get("/_dash-layout").status_code == 401
    assert client.post("/_dash-update-component", json={}, headers={"Origin": ORIGIN}).status_code == 401
    assert client.get("/login").status_code == 200
    front = client.get("/")
    assert front.status_code == 200 and 'id="login-submit"' in front.text


def test_sign_in_sets_a_hardened_cookie_and_redirects_only_locally(site: Site) -> None:
    client = site.client()
    response = sign_in(client, "reg", factories.PASSWORD, next_path="//evil.example/x")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/").status_code == 200


def test_wrong_password_is_refused_and_rate_limited(site: Site) -> None:
    client = site.client()
    for _ in range(3):  # login_attempts_per_minute=3 in the fixture
        refused = sign_in(client, "reg", "wrong password!!")
        assert refused.status_code == 401 and "do not match" in refused.text
    blocked = sign_in(client, "reg", factories.PASSWORD)  # even the right password waits now
    assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.text
    assert sign_in(site.client(), "acme-user", factories.PASSWORD).status_code == 302  # other user unaffected


def test_login_and_logout_forms_need_the_csrf_token(site: Site) -> None:
    client = site.client()
    csrf_of(client)
    forged = client.post("/login", data={"username": "reg", "password": factories.PASSWORD},
                         headers={"Origin": ORIGIN})
    assert forged.status_code == 400
    client = site.login("reg")
    assert client.post("/logout", headers={"Origin": ORIGIN}).status_code == 400
    assert client.get("/_dash-layout").status_code == 200


def test_cookie_authenticated_posts_must_be_same_origin(site: Site) -> None:
    client = site.login("reg")
    for headers in ({"Origin": "https://evil.example"}, {"Referer": "https://evil.example/page"}, {}):
        response = client.post("/_dash-update-component", json={}, headers=headers)
        assert response.status_code == 403, headers
    ok = client.post("/_dash-update-component", json={}, headers={"Referer": f"{ORIGIN}/systems"})
    assert ok.status_code != 403


def test_security_headers_on_every_response(site: Site) -> None:
    client = site.login("reg")
    for path in ("/", "/login", "/_dash-layout", "/healthz"):
        headers = client.get(path).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self' 'sha256-" in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp and "http" not in csp  # no CDN anywhere
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "same-origin"


def test_disabled_account_loses_its_session(site: Site) -> None:
    from sqlmodel import Session, select

    from tracker.store.models import User

    client = site.login("acme-user")
    with Session(site.engine) as session:
        user = session.exec(select(User).where(User.username == "acme-user")).one()
        user.disabled = True
        session.add(user)
        session.commit()
    assert client.get("/_dash-layout").status_code == 401
