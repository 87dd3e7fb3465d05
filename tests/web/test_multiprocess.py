"""Two `tracker serve` processes over one database, one browser alternating between them: what a
deployment with several web processes behind a reverse proxy (no sticky sessions) relies on.

Nothing a request needs may sit in one process's memory: the session row, the failed-attempt
buckets and the overview cache's data version are in the database, and the CSRF token travels in
the cookie signed with the shared secret. The forged-request tests show the other side: a cookie
from another secret or another database is not a session anywhere.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from tests.reliability.helpers import (
    GOOD_RUNS,
    PASSWORD,
    Server,
    csrf_token,
    running_server,
    scalar,
    seed_accounts,
    sign_in,
)

COOKIE = "tracker_session"
PRIVATE_PAGE = "/systems"  # signed-in users only (the page layout itself is public: the register)
ATTEMPTS = 3



@pytest.fixture
def servers(engine: Engine, db_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server, dict[str, list[str]]]]:
    """Processes A and B of `tracker serve` on one database, the same secret, three failures allowed."""
    tokens = seed_accounts(engine, ["acme"])
    with ExitStack() as stack:
        pair = [stack.enter_context(running_server(db_url, tmp_path / name, cli=True,
                                                   TRACKER_LOGIN_ATTEMPTS_PER_MINUTE=str(ATTEMPTS)))
                for name in ("a", "b")]
        yield pair[0], pair[1], tokens


def _signed_in(http: requests.Session, server: Server) -> bool:
    """Whether ``server`` takes this browser's cookie as a live session (else: a redirect to sign in)."""
    status = http.get(f"{server.url}{PRIVATE_PAGE}", allow_redirects=False, timeout=30).status_code
    assert status in (200, 302), status
    return status == 200


def _find(node: Any, ident: str) -> Any:
    """The props of the component with id ``ident`` in a callback's JSON answer."""
    if isinstance(node, dict):
        props = node.get("props")
        if isinstance(props, dict) and props.get("id") == ident:
            return props
        for value in node.values():
            found = _find(value, ident)
            if found is not None:
                return found
    elif isinstance(node, list):
        for value in node:
            found = _find(value, ident)
            if found is not None:
                return found
    return None


def _systems_tracked(http: requests.Session, server: Server) -> str:
    """The overview's "systems tracked" tile, from its refresh callback with no filter set (the
    callback is found in the app's own dependency list, so the test follows the page's outputs)."""
    dependencies = http.get(f"{server.url}/_dash-dependencies", timeout=30).json()
    refresh = next(d for d in dependencies if "ov-stats.children" in d["output"])
    inputs = [{**item, "value": None} for item in refresh["inputs"]]
    answer = http.post(f"{server.url}/_dash-update-component", headers={"Origin": server.url}, timeout=60, json={
        "output": refresh["output"], "outputs": [dict(zip(("id", "property"), o.rsplit(".", 1), strict=True))
                                                 for o in refresh["output"].strip(".").split("...")],
        "inputs": inputs, "state": [], "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]})
    assert answer.status_code == 200, server.stderr()[-3000:]
    props = _find(answer.json(), "stat-systems")
    assert props is not None, answer.text[:500]
    return str(props["children"])


def _cookie_jar(http: requests.Session) -> requests.cookies.RequestsCookieJar:
    return requests.utils.cookiejar_from_dict({COOKIE: http.cookies[COOKIE]})


def test_one_browser_alternating_between_two_processes(servers: tuple[Server, Server, dict[str, list[str]]],
                                                       engine: Engine) -> None:
    a, b, tokens = servers
    with requests.Session() as http:
        # Failed sign-ins are counted across both: two on A and one on B use up the three allowed,
        # and then even the right password is turned away, on either process.
        for server in (a, a, b):
            refused = sign_in(http, server.url, "acme-user", "not the password at all")
            assert refused.status_code == 401, refused.text[:300]
        for server in (b, a):
            blocked = sign_in(http, server.url, "acme-user")
            assert blocked.status_code == 429 and "Too many failed sign-ins" in blocked.text
        assert scalar(engine, "SELECT count(*) FROM attempt_bucket") == 1
        assert "acme-user" not in str(scalar(engine, "SELECT key FROM attempt_bucket"))  # a hash, not the name

        # The sign-in form comes from A, the sign-in goes to B: B accepts A's form token.
        token = csrf_token(http, a.url)
        signed = http.post(f"{b.url}/login", data={"username": "reg", "password": PASSWORD, "csrf_token": token,
                                                   "next": "/"}, headers={"Origin": b.url}, allow_redirects=False,
                           timeout=30)
        assert signed.status_code == 302, signed.text[:300]
        assert _signed_in(http, a) and _signed_in(http, b)  # signed in on B, the session works on A

        # The overview, cached by both processes, is fresh on both after a filing and an evaluation.
        assert _systems_tracked(http, a) == _systems_tracked(http, b) == "0"
        filed = requests.post(f"{b.url}/api/v1/disclosures", headers={"Authorization": f"Bearer {tokens['acme'][0]}"},
                              data={"kind": "training_runs"}, files={"file": ("runs.csv", GOOD_RUNS)}, timeout=60)
        assert filed.status_code == 201, filed.text[:300]
        from tracker.registry.pipeline import run_evaluation

        run_evaluation(engine, date.today(), actor="test")
        assert _systems_tracked(http, a) == _systems_tracked(http, b) == "1"

        # Signing out on B with the form token A served ends the session on A too: the same cookie,
        # replayed on A, is no session any more.
        before = _cookie_jar(http)
        page = http.get(f"{a.url}/account/password", timeout=30).text
        form_token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert form_token, page[:300]
        out = http.post(f"{b.url}/logout", data={"csrf_token": form_token.group(1)}, headers={"Origin": b.url},
                        allow_redirects=False, timeout=30)
        assert out.status_code == 302 and out.headers["Location"].endswith("/login")
    with requests.Session() as replay:
        replay.cookies.update(before)
        assert not _signed_in(replay, a) and not _signed_in(replay, b)
    assert a.alive() and b.alive()
    assert "Traceback" not in a.stderr() + b.stderr()


# --- forged requests: a cookie from elsewhere -------------------------------------------------------------


def _app(url: str, secret: str) -> Any:
    from tracker.config import Settings
    from tracker.web.server import create_server

    return create_server(Settings(database_url=url, environment="test", secret_key=secret,
                                  login_attempts_per_minute=ATTEMPTS))


def _flask_sign_in(client: FlaskClient, username: str) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token, page[:300]
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token.group(1),
                                         "next": "/"}, headers={"Origin": "http://localhost"})
    assert answer.status_code == 302, answer.text[:300]


def _cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def _with_cookie(app: Any, value: str) -> FlaskClient:
    client: FlaskClient = app.test_client()
    client.set_cookie(COOKIE, value)
    return client


@pytest.fixture
def other_database(tmp_path: Path, _sqlite_template: Path) -> str:
    path = tmp_path / "other.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


def test_a_session_from_another_secret_or_database_is_refused(engine: Engine, db_url: str,
                                                              other_database: str) -> None:
    from tracker.store.db import make_engine

    seed_accounts(engine, ["acme"])
    other_engine = make_engine(other_database)
    seed_accounts(other_engine, ["acme"])  # the same usernames and password, another registry
    other_engine.dispose()
    ours = _app(db_url, "s" * 48)
    elsewhere = _app(other_database, "s" * 48)  # another deployment that happens to share the secret
    other_secret = _app(db_url, "x" * 48)  # our database, a secret the attacker chose

    client = elsewhere.test_client()
    _flask_sign_in(client, "reg")
    from_elsewhere = _cookie(client)
    assert _with_cookie(elsewhere, from_elsewhere).get(PRIVATE_PAGE).status_code == 200  # live there
    assert _with_cookie(ours, from_elsewhere).get(PRIVATE_PAGE).status_code == 302  # unknown session here

    client = other_secret.test_client()
    _flask_sign_in(client, "reg")  # a real session row in our database, under a cookie signed with "x"
    forged = _cookie(client)
    refused = _with_cookie(ours, forged)
    assert refused.get(PRIVATE_PAGE).status_code == 302
    # Its CSRF token is refused too: the value it is compared with travels in a cookie whose
    # signature fails here, so even the right password with it is a form that expired.
    page = other_secret.test_client()
    page.set_cookie(COOKIE, forged)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get("/account/password").text)
    assert token
    answer = _with_cookie(ours, forged).post("/login", data={
        "username": "reg", "password": PASSWORD, "csrf_token": token.group(1), "next": "/"},
        headers={"Origin": "http://localhost"})
    assert answer.status_code == 400 and "form expired" in answer.text
    # And nothing ended the session row it carried: refusing a cookie is not a sign-out.
    assert scalar(engine, "SELECT count(*) FROM web_session WHERE revoked_at IS NULL") == 1
