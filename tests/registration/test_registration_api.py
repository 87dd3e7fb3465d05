"""`/api/v1/registrations` with provider tokens, including forged requests: another provider's
token cannot see, submit for or withdraw another provider's registration, and gets the same
answer as for one that does not exist."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import flask
import pytest
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.registration.registration_factories import AS_OF, EU, add_llama, add_small, token_for
from tracker.api.openapi import openapi_document
from tracker.api.registrations import registrations_blueprint
from tracker.api.routes import ENGINE_KEY
from tracker.config import get_settings
from tracker.registry.pipeline import run_evaluation
from tracker.store.models import Flag, Registration, RegistrationSubmission
from tracker.web.server import create_server


@dataclass
class Api:
    client: FlaskClient
    tokens: dict[str, str]
    llama: int

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def post(self, who: str, path: str = "/api/v1/registrations", **kwargs: Any) -> Any:
        return self.client.post(path, headers=self.headers(who), **kwargs)

    def get(self, who: str, path: str) -> Any:
        return self.client.get(path, headers=self.headers(who))


@pytest.fixture
def api(engine: Engine, settings_env: Path) -> Iterator[Api]:
    llama = add_llama(engine)
    add_small(engine, "rival", "rival-7b")
    run_evaluation(engine, AS_OF, actor="test")
    tokens = {"meta": token_for(engine, "meta"), "rival": token_for(engine, "rival")}
    # The blueprint on a bare Flask app: these tests are about the API, not the dashboard mounted beside it.
    app = flask.Flask("registrations-test")
    app.extensions[ENGINE_KEY] = engine
    app.config["MAX_CONTENT_LENGTH"] = get_settings().max_upload_bytes
    app.register_blueprint(registrations_blueprint)
    yield Api(app.test_client(), tokens, llama)


def _llama_registration(engine: Engine) -> Registration:
    with Session(engine) as session:
        return session.exec(select(Registration).where(Registration.regime_id == EU)).one()


def test_post_json_submits_and_meets_the_deadline(api: Api, engine: Engine) -> None:
    response = api.post("meta", json={"system": "Llama 3.1 405B", "regime": EU, "compute_flop": 3.8e25,
                                      "compute_method": "hardware", "crossed_on": "2024-07-01",
                                      "contact": "regulatory@meta.example"})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["state"] == "submitted" and body["provider"] == "meta" and body["regime"] == EU
    assert response.headers["Location"] == f"/api/v1/registrations/{body['id']}"
    with Session(engine) as session:
        flag = session.exec(select(Flag).where(Flag.regime_id == EU, Flag.subject_kind == "system",
                                                Flag.subject_id == api.llama)).one()
    assert flag.notified_at is not None and flag.notified_by is not None and flag.notified_by.startswith("api:")

    detail = api.get("meta", f"/api/v1/registrations/{body['id']}").get_json()
    assert detail["submissions"][0]["compute_flop"] == 3.8e25  # the owner sees its own figure
    assert [e["action"] for e in detail["events"]] == ["open", "submit"]
    listed = api.get("meta", "/api/v1/registrations").get_json()["registrations"]
    assert body["id"] in [r["id"] for r in listed]


def test_multipart_with_attachments_and_a_contest(api: Api, engine: Engine) -> None:
    response = api.post("meta", data={
        "system": "Llama 3.1 405B", "regime": EU, "contest": "No systemic risk despite the threshold.",
        "attachment": [(io.BytesIO(b"%PDF-1.4 evaluation"), "evaluation.pdf"),
                       (io.BytesIO("Arguments, in UTF-8: é".encode()), "arguments.txt")],
    }, content_type="multipart/form-data")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["state"] == "contested"
    detail = api.get("meta", f"/api/v1/registrations/{response.get_json()['id']}").get_json()
    files = detail["submissions"][0]["attachments"]
    assert sorted(f["media_type"] for f in files) == ["application/pdf", "text/plain"]
    assert all("stored_path" not in f for f in files)  # a server path is nobody's business


def test_an_attachment_that_is_neither_pdf_nor_text_is_refused_and_nothing_stored(api: Api, engine: Engine) -> None:
    response = api.post("meta", data={"system": "Llama 3.1 405B", "regime": EU,
                                      "attachment": [(io.BytesIO(b"MZ\x90\x00\x03binary"), "tool.exe")]},
                        content_type="multipart/form-data")
    assert response.status_code == 400
    error = response.get_json()["errors"][0]
    assert error["field"] == "attachment 1" and "neither a PDF" in error["message"]
    assert _llama_registration(engine).state == "due"


def test_invalid_fields_answer_400_naming_each_field(api: Api) -> None:
    response = api.post("meta", json={"system": "Llama 3.1 405B", "regime": EU, "compute_flop": "lots",
                                      "crossed_on": "01/07/2024", "colour": "blue"})
    assert response.status_code == 400
    fields = {e["field"] for e in response.get_json()["errors"]}
    assert fields == {"compute_flop", "crossed_on", "colour"}
    nan = api.post("meta", json={"system": "Llama 3.1 405B", "regime": EU, "compute_flop": "nan"})
    assert nan.status_code == 400 and nan.get_json()["errors"][0]["field"] == "compute_flop"


def test_forged_requests_cannot_see_submit_for_or_withdraw_anothers(api: Api, engine: Engine) -> None:
    mine = api.post("meta", json={"system": "Llama 3.1 405B", "regime": EU}).get_json()
    missing_id = mine["id"] + 1000

    # Read: another provider's registration is a 404 worded like a missing one.
    theirs, absent = (api.get("rival", f"/api/v1/registrations/{i}") for i in (mine["id"], missing_id))
    assert theirs.status_code == absent.status_code == 404
    assert theirs.get_json()["errors"][0]["message"].replace(str(mine["id"]), "N") == \
        absent.get_json()["errors"][0]["message"].replace(str(missing_id), "N")
    assert api.get("rival", "/api/v1/registrations").get_json()["registrations"] == []

    # Submit: for another provider's system, or naming the other provider, the same 400 as a missing system.
    forged = api.post("rival", json={"system": "Llama 3.1 405B", "regime": EU, "contest": "hijack"})
    nothing = api.post("rival", json={"system": "no-such-model", "regime": EU})
    assert forged.status_code == nothing.status_code == 400
    assert forged.get_json()["errors"][0]["message"].replace("Llama 3.1 405B", "X") == \
        nothing.get_json()["errors"][0]["message"].replace("no-such-model", "X")
    spoofed = api.post("rival", json={"system": "Llama 3.1 405B", "regime": EU, "provider": "meta"})
    assert spoofed.status_code == 400 and spoofed.get_json()["errors"][0]["field"] == "provider"

    # Withdraw: the same 404 as a missing one, and nothing changes.
    theirs, absent = (api.post("rival", f"/api/v1/registrations/{i}/withdraw", json={"reason": "x"})
                      for i in (mine["id"], missing_id))
    assert theirs.status_code == absent.status_code == 404
    assert _llama_registration(engine).state == "submitted"
    with Session(engine) as session:
        assert len(session.exec(select(RegistrationSubmission)).all()) == 1

    # No token, or a wrong one: 401 before anything is read.
    assert api.client.get(f"/api/v1/registrations/{mine['id']}").status_code == 401
    assert api.client.post("/api/v1/registrations", json={"system": "x", "regime": EU},
                           headers={"Authorization": "Bearer ctt_forged"}).status_code == 401

    # The owner may withdraw; withdrawing again is a state conflict, said as such.
    done = api.post("meta", f"/api/v1/registrations/{mine['id']}/withdraw", json={"reason": "wrong regime"})
    assert done.status_code == 200 and done.get_json()["state"] == "withdrawn"
    again = api.post("meta", f"/api/v1/registrations/{mine['id']}/withdraw")
    assert again.status_code == 409 and "'withdraw' is not allowed" in again.get_json()["errors"][0]["message"]


def test_the_server_serves_the_routes_and_the_openapi_document_lists_them(settings_env: Path) -> None:
    rules = {(rule.rule, method) for rule in create_server(get_settings()).url_map.iter_rules()
             for method in rule.methods or ()}
    assert {("/api/v1/registrations", "POST"), ("/api/v1/registrations", "GET"),
            ("/api/v1/registrations/<int:registration_id>", "GET"),
            ("/api/v1/registrations/<int:registration_id>/withdraw", "POST")} <= rules
    paths = openapi_document()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/registrations"])
    assert "get" in paths["/api/v1/registrations/{id}"] and "post" in paths["/api/v1/registrations/{id}/withdraw"]
    json.dumps(openapi_document())


def test_a_refused_submission_leaves_no_file_behind(api: Api, settings_env: Path) -> None:
    response = api.post("rival", data={"system": "Llama 3.1 405B", "regime": EU,
                                       "attachment": [(io.BytesIO(b"%PDF-1.4 " + b"x" * 1000), "fill.pdf")]},
                        content_type="multipart/form-data")
    assert response.status_code == 400
    stored = get_settings().archive_dir / "registrations"
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))
