"""Hostile users, beyond tests/web (forged callbacks, cross-provider access, rate limit, headers):
secrets never reach a log or the database, and filters given to the API or CLI are data, not SQL.

Formula neutralisation of the dashboard's CSV/XLSX export and of ``tracker systems --format csv`` is
checked end to end in test_bad_input.py::test_formula_text_is_stored_verbatim_and_neutralised_in_every_export.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.filing.conftest import filings
from tests.reliability.conftest import callback, sign_in
from tests.reliability.helpers import (
    GOOD_RUNS,
    PASSWORD,
    dash_callback,
    database_text,
    running_server,
    seed_accounts,
)
from tests.reliability.helpers import sign_in as http_sign_in
from tracker.store.db import get_engine, make_engine
from tracker.store.models import ApiToken, User

TOKEN = re.compile(r"ctt_[A-Za-z0-9_-]{40,}")
WRONG_PASSWORD = "my real password, mistyped 7"
NEW_PASSWORD = "another long password for alice"
TOKENS_CALLBACK = "..token-secret.children...token-list.children.."


def _create_token_in_portal(post: Any, name: str) -> str:
    response = post(TOKENS_CALLBACK, [{"id": "token-create", "property": "n_clicks", "value": 1}, []],
                    [{"id": "token-name", "property": "value", "value": name}])
    assert response.status_code == 200, response.text
    found = TOKEN.findall(response.text)
    assert len(found) == 1, response.text[:500]
    return str(found[0])


def _assert_only_hashes_stored(secrets: list[str], tokens: list[str]) -> None:
    engine = get_engine()
    text = database_text(engine)
    leaked = [s for s in secrets if s in text]
    assert not leaked, f"plaintext secrets in the database: {leaked}"
    with Session(engine) as session:
        hashes = {t.token_hash for t in session.exec(select(ApiToken)).all()}
        assert {hashlib.sha256(t.encode()).hexdigest() for t in tokens} <= hashes
        people = [u for u in session.exec(select(User)).all() if not u.username.startswith("svc-")]
        assert people and all(u.password_hash.startswith("$argon2id$") for u in people)


def test_passwords_and_tokens_never_reach_the_logs_or_the_database(app: Any, caplog: pytest.LogCaptureFixture,
                                                                   settings_env: Path) -> None:
    """Every log record at DEBUG (SQLAlchemy's statements and parameters included) while accounts are
    created (CLI), people sign in (right and wrong passwords), tokens are created (CLI, portal, code)
    and used (API, also a wrong token)."""
    from tracker.cli.main import app as cli

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # SQLAlchemy sets its own logger to WARNING
    engine = get_engine()
    tokens = seed_accounts(engine, ["acme"])["acme"]  # one token made in code
    runner = CliRunner()
    added = runner.invoke(cli, ["users", "add", "alice", "--role", "regulator", "--password-stdin"],
                          input=NEW_PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    created = runner.invoke(cli, ["api-token", "create", "--provider", "acme", "--name", "cli"])
    assert created.exit_code == 0, created.output
    tokens.append(TOKEN.findall(created.stdout)[0])

    browser = app.test_client()
    assert sign_in(browser, "alice", WRONG_PASSWORD).status_code == 401
    assert sign_in(browser, "alice", NEW_PASSWORD).status_code == 302
    provider = app.test_client()
    assert sign_in(provider, "acme-user").status_code == 302
    tokens.append(_create_token_in_portal(lambda *a: callback(provider, *a), "portal"))

    api = app.test_client()
    for n, token in enumerate(tokens):
        filed = api.post("/api/v1/disclosures", headers={"Authorization": f"Bearer {token}"},
                         data={"kind": "training_runs",
                               "file": (io.BytesIO(GOOD_RUNS.replace(b"r1", f"r{n}".encode())), "r.csv")},
                         content_type="multipart/form-data")
        assert filed.status_code == 201, filed.text
        assert api.get(filed.headers["Location"], headers={"Authorization": f"Bearer {token}"}).status_code == 200
    wrong = "ctt_" + "x" * 43
    assert api.post("/api/v1/disclosures", headers={"Authorization": f"Bearer {wrong}"}).status_code == 401

    secrets = [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, wrong, *tokens]
    logged = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert any(r.name.startswith("sqlalchemy.engine") for r in caplog.records), "DEBUG capture not effective"
    # Statement parameters are logged (so a secret bound to a query would show): the token prefixes are.
    assert all(t[:12] in logged for t in tokens)
    leaked = [s for s in secrets if s in logged or s in caplog.text]
    assert not leaked, f"secrets in the log: {leaked}"
    _assert_only_hashes_stored(secrets, tokens)


def test_the_servers_stderr_at_debug_holds_no_password_or_token(sqlite_url: str, tmp_path: Path) -> None:
    """The production server in its own process with logging at DEBUG: its whole stderr (waitress,
    Flask, Dash, SQLAlchemy) after sign-ins, a token created in the portal and API calls."""
    engine = make_engine(sqlite_url)
    code_token = seed_accounts(engine, ["acme"])["acme"][0]
    engine.dispose()
    with running_server(sqlite_url, tmp_path / "runtime", log_level="DEBUG") as server:
        with requests.Session() as http:
            assert http_sign_in(http, server.url, "reg", WRONG_PASSWORD).status_code == 401
        with requests.Session() as http:
            assert http_sign_in(http, server.url, "acme-user").status_code == 302
            portal_token = _create_token_in_portal(lambda *a: dash_callback(http, server.url, *a), "portal")
        for n, token in enumerate((code_token, portal_token)):
            filed = requests.post(f"{server.url}/api/v1/disclosures", headers={"Authorization": f"Bearer {token}"},
                                  data={"kind": "training_runs"},
                                  files={"file": ("r.csv", GOOD_RUNS.replace(b"r1", f"r{n}".encode()))}, timeout=30)
            assert filed.status_code == 201, filed.text
        bogus = "ctt_" + "y" * 43
        assert requests.get(f"{server.url}/api/v1/disclosures/CTT-2026-000001",
                            headers={"Authorization": f"Bearer {bogus}"}, timeout=30).status_code == 401
    stderr = server.stderr()
    assert "sqlalchemy.engine" in stderr and "INSERT INTO filing" in stderr  # DEBUG logging was on
    assert portal_token[:12] in stderr  # with statement parameters: a bound secret would show
    leaked = [s for s in (PASSWORD, WRONG_PASSWORD, code_token, portal_token, bogus) if s in stderr]
    assert not leaked, f"secrets on the server's stderr: {leaked}"


INJECTIONS = ["' OR '1'='1", "x' UNION SELECT accession FROM filing --", "CTT-2026-000001'; DROP TABLE filing; --",
              "%", "_", "\\"]


def test_api_and_cli_filters_are_data_not_sql(app: Any, settings_env: Path) -> None:
    """The API's only filters are the accession in the path and the form's kind and provider; the
    CLI's are slugs, names and dates. Injections find nothing, change nothing, and break nothing.
    (The dashboard grid's filters: tests/store/test_queries.py.)"""
    from tracker.cli.main import app as cli

    engine = get_engine()
    token = seed_accounts(engine, ["acme", "rival"], regulator=None)
    auth = {"Authorization": f"Bearer {token['acme'][0]}"}
    api = app.test_client()
    own = api.post("/api/v1/disclosures", headers=auth, content_type="multipart/form-data",
                   data={"kind": "training_runs", "file": (io.BytesIO(GOOD_RUNS), "r.csv")})
    assert own.status_code == 201
    theirs = api.post("/api/v1/disclosures", headers={"Authorization": f"Bearer {token['rival'][0]}"},
                      content_type="multipart/form-data",
                      data={"kind": "training_runs", "file": (io.BytesIO(GOOD_RUNS), "r.csv")})
    assert theirs.status_code == 201
    for payload in INJECTIONS:
        looked_up = api.get(f"/api/v1/disclosures/{quote(payload, safe='')}", headers=auth)
        assert looked_up.status_code == 404 and looked_up.content_type == "application/json", payload
        assert theirs.json["accession"] not in looked_up.text
        kind = api.post("/api/v1/disclosures", headers=auth, content_type="multipart/form-data",
                        data={"kind": payload, "file": (io.BytesIO(GOOD_RUNS + b"acme-lm,r9,1e24\n"), "r.csv")})
        assert kind.status_code == 400 and "kind" in kind.text, payload
        other = api.post("/api/v1/disclosures", headers=auth, content_type="multipart/form-data",
                         data={"kind": "training_runs", "provider": payload, "file": (io.BytesIO(GOOD_RUNS), "r.csv")})
        assert other.status_code == 403, payload
    runner = CliRunner()
    for payload in INJECTIONS[:3]:
        audit = runner.invoke(cli, ["audit", "export", "--from", payload])
        assert audit.exit_code != 0 and "Traceback" not in audit.output
        matched = runner.invoke(cli, ["match", payload, payload, "--provider", "acme"])
        assert matched.exit_code == 1 and "Traceback" not in matched.output
        ingest = runner.invoke(cli, ["ingest", str(settings_env), "--provider", payload])
        assert ingest.exit_code != 0 and "Traceback" not in ingest.output
    assert api.get(own.headers["Location"], headers=auth).status_code == 200
    stored = filings(engine)
    assert len([f for f in stored if f.status == "accepted"]) == 2  # the table is intact, nothing else filed
