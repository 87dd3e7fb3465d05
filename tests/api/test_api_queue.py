"""The API and the filing queue: every accepted filing queues its evaluation and says when its
estimates appear; an upload above the queue size is answered 202 and filed by a worker; a queued
upload is readable by its own provider only (forged and foreign requests get 401/404)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.reliability.helpers import seed_accounts
from tracker.store.db import get_engine
from tracker.store.models import Estimate, Filing, FilingJob
from tracker.worker.runner import Worker

RUNS = b"system,run_id,accelerator,accelerator_count,training_hours,precision\nacme-lm,r1,H100-SXM,1024,720,bf16\n"
QUEUE_ABOVE_BYTES = 2000
# Above the queue size: 60 runs of one system.
LARGE = b"system,run_id,accelerator,accelerator_count,training_hours,precision\n" + b"".join(
    f"acme-big,big-{n},H100-SXM,1024,{100 + n},bf16\n".encode() for n in range(60))
LARGE_BAD = LARGE.replace(b"big-7,H100-SXM,1024", b"big-7,H100-SXM,-3")


@pytest.fixture
def app(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from dashboards.components import cache
    from tracker.config import get_settings
    from tracker.web.server import create_server

    monkeypatch.setenv("TRACKER_QUEUE_UPLOAD_ABOVE_BYTES", str(QUEUE_ABOVE_BYTES))
    monkeypatch.setenv("TRACKER_SPOOL_DIR", str(settings_env / "spool"))
    get_settings.cache_clear()
    cache.clear()
    yield create_server(get_settings())
    cache.clear()
    get_settings.cache_clear()


def _work() -> int:
    from tracker.config import get_settings

    return Worker(get_settings()).run(until_idle=True)


def post(client: Any, token: str | None, content: bytes, filename: str = "runs.csv") -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/api/v1/disclosures", headers=headers, content_type="multipart/form-data",
                       data={"kind": "training_runs", "file": (io.BytesIO(content), filename)})


def test_an_accepted_filing_queues_its_evaluation_and_the_receipt_says_when_estimates_are_in(app: Any) -> None:
    engine = get_engine()
    token = seed_accounts(engine, ["acme"], regulator=None)["acme"][0]
    client = app.test_client()
    filed = post(client, token, RUNS)
    assert filed.status_code == 201
    assert filed.json["evaluation"] == {"state": "queued", "expected_within_s": 10}
    with Session(engine) as session:
        assert [(j.job_type, j.status) for j in session.exec(select(FilingJob)).all()] == [("evaluation", "queued")]
        assert session.exec(select(Estimate)).first() is None
    assert _work() == 1
    read = client.get(filed.headers["Location"], headers={"Authorization": f"Bearer {token}"})
    assert read.status_code == 200 and read.json["evaluation"] == {"state": "done"}
    with Session(engine) as session:
        assert session.exec(select(Estimate)).first() is not None  # without waiting for the nightly run
    again = post(client, token, RUNS)  # the same bytes: nothing new to evaluate
    assert again.status_code == 200 and again.json["evaluation"] == {"state": "done"}
    rejected = post(client, token, b"system,run_id,reported_flop\nacme-lm,r2,-1\n")
    assert rejected.status_code == 400 and rejected.json["evaluation"] == {"state": "not_needed"}
    assert _work() == 0  # neither queued another evaluation


def test_a_large_upload_is_queued_202_and_its_receipt_appears_at_its_location(app: Any) -> None:
    engine = get_engine()
    tokens = seed_accounts(engine, ["acme", "rival"], regulator=None)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {tokens['acme'][0]}"}
    queued = post(client, tokens["acme"][0], LARGE, "big.csv")
    assert queued.status_code == 202, queued.json
    location = queued.headers["Location"]
    assert location == queued.json["location"] and location.startswith("/api/v1/disclosures/queue/")
    assert queued.json["status"] == "queued" and queued.json["receipt"] is None
    waiting = client.get(location, headers=auth)
    assert waiting.status_code == 200 and waiting.json["status"] == "queued" and waiting.headers["Retry-After"] == "1"
    with Session(engine) as session:
        assert session.exec(select(Filing)).all() == []  # nothing parsed in the request

    assert _work() == 2  # the filing, then its evaluation
    done = client.get(location, headers=auth)
    assert done.status_code == 200 and done.json["status"] == "done"
    receipt = done.json["receipt"]
    assert receipt["status"] == "accepted" and receipt["counts"]["records"] == 60 and receipt["channel"] == "api"
    assert receipt["duplicate"] is False and done.json["evaluation"] == {"state": "done"}
    assert done.headers["Location"] == f"/api/v1/disclosures/{receipt['accession']}"
    assert not list(get_settings_spool().iterdir())  # the spooled bytes are gone once filed


def get_settings_spool() -> Path:
    from tracker.config import get_settings

    return get_settings().spool_dir


def test_a_large_rejected_upload_ends_with_its_problems(app: Any) -> None:
    engine = get_engine()
    token = seed_accounts(engine, ["acme"], regulator=None)["acme"][0]
    client = app.test_client()
    queued = post(client, token, LARGE_BAD, "bad.csv")
    assert queued.status_code == 202
    assert _work() == 1  # rejected: nothing to evaluate
    done = client.get(queued.headers["Location"], headers={"Authorization": f"Bearer {token}"}).json
    assert done["status"] == "rejected" and done["evaluation"] == {"state": "not_needed"}
    (problem,) = done["receipt"]["errors"]
    assert (problem["row"], problem["column"]) == (8, "accelerator_count")


def test_a_queued_upload_is_readable_by_its_own_provider_only(app: Any) -> None:
    engine = get_engine()
    tokens = seed_accounts(engine, ["acme", "rival"], regulator=None)
    client = app.test_client()
    location = post(client, tokens["acme"][0], LARGE, "big.csv").headers["Location"]
    rival = client.get(location, headers={"Authorization": f"Bearer {tokens['rival'][0]}"})
    assert rival.status_code == 404 and "no queued upload" in rival.json["errors"][0]["message"]
    assert client.get(location).status_code == 401
    assert client.get(location, headers={"Authorization": "Bearer ctt_" + "x" * 43}).status_code == 401
    forged = client.get("/api/v1/disclosures/queue/" + "0" * 32,
                        headers={"Authorization": f"Bearer {tokens['acme'][0]}"})
    assert forged.status_code == 404
    # Another provider's upload cannot be claimed by naming it: the token decides the provider.
    refused = client.post("/api/v1/disclosures", headers={"Authorization": f"Bearer {tokens['rival'][0]}"},
                          content_type="multipart/form-data",
                          data={"kind": "training_runs", "provider": "acme", "file": (io.BytesIO(LARGE), "x.csv")})
    assert refused.status_code == 403
    with Session(engine) as session:
        assert len(session.exec(select(FilingJob)).all()) == 1


def test_the_openapi_document_describes_the_queue(app: Any) -> None:
    document = app.test_client().get("/api/v1/openapi.json").json
    assert "202" in document["paths"]["/api/v1/disclosures"]["post"]["responses"]
    assert "/api/v1/disclosures/queue/{job}" in document["paths"]
    assert document["components"]["schemas"]["Evaluation"]["properties"]["state"]["enum"] == [
        "done", "queued", "running", "nightly", "not_needed"]
