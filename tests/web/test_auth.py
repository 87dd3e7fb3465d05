"""Sign-in, sessions, CSRF, the rate limit, the login gate and the security headers."""

from __future__ import annotations

import pytest

from tests.dashboard import factories
from tests.web.conftest import ORIGIN, Site, csrf_of, sign_in
from tracker.web.auth import safe_next


def test_pages_and_callbacks_need_a_session(site: Site) -> None:
    client = site.client()
    page = client.get("/systems/1")
    assert page.status_code == 302 and page.headers["Location"] == "/login?next=/systems/1"
    # /_dash-layout and /_dash-dependencies are public (the register's shell: tracker/web/public.py).
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
    # /_dash-layout is public (the register's shell); a private callback shows the session is gone.
    assert client.post("/_dash-update-component", json={}, headers={"Origin": ORIGIN}).status_code == 401
    assert client.get("/systems").status_code == 302


REDIRECT_ESCAPES = [
    "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "/\t/evil.example/phish",
    "/\n/evil.example", "/\r/evil.example", "/ /evil.example", "/\x00/evil.example", "/\x7f/evil.example",
    "https://evil.example", "https:evil.example", "http:/evil.example", "javascript:alert(1)",
    "evil.example", "/%09/evil.example", "/%2F/evil.example", "/%2f%2fevil.example", "/%5Cevil.example",
    "/%252F/evil.example", "/%0a/evil.example", "/\u3000/evil.example", "/\u202e/evil.example", "",
    "/" + "a" * 3000,
]
REDIRECT_KEEPS = ["/", "/systems/12", "/systems?provider=acme&page=2", "/alerts#open", "/a/b/c/"]


@pytest.mark.parametrize("target", REDIRECT_ESCAPES)
def test_next_refuses_anything_but_a_same_site_path(target: str) -> None:
    assert safe_next(target) == "/"


@pytest.mark.parametrize("target", REDIRECT_KEEPS)
def test_next_keeps_same_site_paths(target: str) -> None:
    assert safe_next(target) == target


def test_signed_in_user_is_not_redirected_off_site(site: Site) -> None:
    # The reported attack: a tab the browser drops turns "/\t/evil.example" into "//evil.example".
    client = site.login("reg")
    for query in ("next=/%09/evil.example/phish", "next=/%5Cevil.example", "next=%2F%2Fevil.example",
                  "next=https:evil.example", "next=/%0D%0A/evil.example"):
        response = client.get(f"/login?{query}")
        assert response.status_code == 302 and response.headers["Location"] == "/", query
    assert client.get("/login?next=/systems/3").headers["Location"] == "/systems/3"
    # And at sign-in, from the form's hidden field.
    response = sign_in(site.client(), "reg", factories.PASSWORD, next_path="/\t/evil.example/phish")
    assert response.status_code == 302 and response.headers["Location"] == "/"
