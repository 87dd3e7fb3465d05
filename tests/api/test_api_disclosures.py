"""The HTTP API over real HTTP: a waitress server on a free loopback port, against the test database."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from sqlmodel import Session, select

from tests.filing.conftest import filings, record_counts
from tracker.auth.scope import Scope
from tracker.auth.tokens import authenticate_token, create_token, revoke_token
from tracker.config import get_settings
from tracker.store.db import get_engine
from tracker.store.models import ApiToken, Provider, User
from tracker.web.server import create_server

CAP_BYTES = 64 * 1024
GOOD = b"system,run_id,reported_flop\nacme-lm,r1,1e24\n"


@dataclass
class Api:
    url: str
    tokens: dict[str, str]
    token_ids: dict[str, int]

    def post(self, content: bytes, *, token: str | None = "acme", kind: str | None = "training_runs",
             filename: str = "runs.csv", **form: str) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens.get(token, token)}"} if token else {}
        data = {"kind": kind, **form} if kind else form
        return requests.post(f"{self.url}/api/v1/disclosures", headers=headers, data=data,
                             files={"file": (filename, content)}, timeout=30)

    def get(self, path: str, token: str | None = "acme") -> requests.Response:
        headers = {"Authorization": f"Bearer {self.tokens[token]}"} if token else {}
        return requests.get(f"{self.url}{path}", headers=headers, timeout=30)


@pytest.fixture
def api(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    import waitress

    monkeypatch.setenv("TRACKER_MAX_UPLOAD_BYTES", str(CAP_BYTES))
    get_settings.cache_clear()
    engine = get_engine()
    tokens, ids = {}, {}
    with Session(engine) as session, session.begin():
        for slug in ("acme", "rival"):
            provider = Provider(slug=slug, name=slug.title())
            session.add(provider)
            session.flush()
            assert provider.id is not None
            tokens[slug], token = create_token(session, user_id=None, provider_id=provider.id, name="test")
            ids[slug] = token.id  # type: ignore[assignment]
    server = waitress.create_server(create_server(get_settings()), host="127.0.0.1", port=0, threads=2,
                                    max_request_body_size=CAP_BYTES * 4)

    def run() -> None:
        try:
            server.run()
        except OSError:  # close() pulls the socket out from under select(): that is the stop signal
            pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield Api(f"http://127.0.0.1:{server.effective_port}", tokens, ids)  # type: ignore[union-attr]
    finally:
        server.close()
        thread.join(timeout=5)


def test_201_then_200_for_the_same_bytes(api: Api) -> None:
    created = api.post(GOOD)
    assert created.status_code == 201, created.text
    receipt = created.json()
    assert receipt["status"] == "accepted" and receipt["provider"] == "acme" and receipt["channel"] == "api"
    assert created.headers["Location"] == f"/api/v1/disclosures/{receipt['accession']}"
    again = api.post(GOOD)
    assert again.status_code == 200
    assert again.json()["accession"] == receipt["accession"] and again.json()["duplicate"] is True
    status = api.get(f"/api/v1/disclosures/{receipt['accession']}")
    assert status.status_code == 200 and status.json()["status"] == "accepted"


def test_400_lists_every_problem(api: Api) -> None:
    response = api.post(b"system,run_id,accelerator_count,utilization,reported_flop\na,r1,-8,1.5,1e24\n")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert errors == [
        {"row": 1, "column": "accelerator_count", "message": "-8 is negative; expected a whole number >= 1"},
        {"row": 1, "column": "utilization", "message": "1.5 is above 1; expected a number in (0, 1]"},
    ]
    assert record_counts(get_engine())["training_run"] == 0
    rejected = api.get(f"/api/v1/disclosures/{response.json()['accession']}")
    assert rejected.json()["status"] == "rejected" and len(rejected.json()["errors"]) == 2
    unclear = b"system,notes\nacme-lm,no identifying column\n"
    assert api.post(unclear, kind=None).json()["errors"][0]["message"].startswith("the kind of the file is unclear")
    missing_file = requests.post(f"{api.url}/api/v1/disclosures", data={"kind": "clusters"}, timeout=10,
                                 headers={"Authorization": f"Bearer {api.tokens['acme']}"})
    assert missing_file.status_code == 400


def test_401_for_missing_unknown_and_revoked_tokens(api: Api) -> None:
    assert api.post(GOOD, token=None).status_code == 401
    unknown = api.post(GOOD, token="ctt_not-a-real-token")
    assert unknown.status_code == 401 and unknown.headers["WWW-Authenticate"].startswith("Bearer")
    with Session(get_engine()) as session, session.begin():
        revoke_token(session, api.token_ids["acme"], scope=Scope(actor="admin", role="admin"))
    assert api.post(GOOD).status_code == 401
    assert filings(get_engine()) == []


def test_403_to_file_for_another_provider_and_404_for_its_receipts(api: Api) -> None:
    assert api.post(GOOD, provider="rival").status_code == 403
    theirs = api.post(GOOD, token="rival").json()["accession"]
    assert api.get(f"/api/v1/disclosures/{theirs}").status_code == 404
    assert api.get("/api/v1/disclosures/CTT-2026-999999").status_code == 404
    assert api.get(f"/api/v1/disclosures/{theirs}", token="rival").status_code == 200


def test_413_above_the_upload_cap(api: Api) -> None:
    big = b"system,run_id,reported_flop\n" + b"acme-lm,r1,1e24\n" * (CAP_BYTES // 16 + 100)
    response = api.post(big)
    assert response.status_code == 413
    assert "cap" in response.json()["errors"][0]["message"]
    assert filings(get_engine()) == []


def test_path_traversal_names_are_stored_as_base_names(api: Api) -> None:
    response = api.post(GOOD, filename="../../etc/passwd.csv")
    assert response.status_code == 201 and response.json()["filename"] == "passwd.csv"


def test_openapi_document(api: Api) -> None:
    doc = requests.get(f"{api.url}/api/v1/openapi.json", timeout=10).json()
    assert doc["openapi"] == "3.1.0"
    post = doc["paths"]["/api/v1/disclosures"]["post"]
    assert set(post["responses"]) == {"200", "201", "202", "400", "401", "403", "413", "429", "503"}
    assert doc["paths"]["/api/v1/accelerators"]["get"]["security"] == []  # the catalog needs no token


def test_tokens_are_stored_hashed_and_owned_by_a_service_user(settings_env: Path) -> None:
    with Session(get_engine()) as session, session.begin():
        provider = Provider(slug="acme", name="Acme")
        session.add(provider)
        session.flush()
        plaintext, token = create_token(session, user_id=None, provider_id=provider.id or 0, name="ci")
        assert plaintext.startswith("ctt_") and len(plaintext) > 40
        assert token.token_hash != plaintext and plaintext not in token.token_hash
        assert token.token_prefix == plaintext[:12]
        user = session.get(User, token.user_id)
        assert user is not None and (user.role, user.password_hash, user.username) == ("provider", "!", "svc-acme")
        assert authenticate_token(session, plaintext) is token and token.last_used_at is not None
        assert authenticate_token(session, plaintext + "x") is None
        with pytest.raises(PermissionError):
            revoke_token(session, token.id or 0, scope=Scope(actor="x", role="provider", provider_id=999))
        revoke_token(session, token.id or 0, scope=Scope(actor="x", role="provider", provider_id=provider.id))
        assert authenticate_token(session, plaintext) is None
        assert len(session.exec(select(ApiToken)).all()) == 1
