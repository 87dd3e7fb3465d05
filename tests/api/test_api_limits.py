"""Filing limits of the API: token buckets per token and per provider (429 + Retry-After), parse slots
(503 + Retry-After), on both databases (issue 15: 20 identical rejected uploads in 1.1 s made 20
filings, 20 open alerts and 20 audit entries)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import xlsxwriter
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.filing.conftest import filings
from tests.reliability.helpers import seed_accounts
from tracker.filing import ratelimit
from tracker.filing.admission import parse_slots
from tracker.filing.ratelimit import Bucket, Rate, refilled, take, wait_s
from tracker.store.db import get_engine
from tracker.store.models import Alert
from tracker.store.types import utcnow

BAD = b"system,run_id,reported_flop\nacme-lm,r1,-5\n"


@pytest.fixture
def app(settings_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from dashboards.components import cache
    from tracker.config import get_settings
    from tracker.web.server import create_server

    for name, value in {"TOKEN_FILING_BURST": "3", "TOKEN_FILINGS_PER_MINUTE": "6", "PROVIDER_FILING_BURST": "5",
                        "PROVIDER_FILINGS_PER_MINUTE": "10", "MAX_CONCURRENT_PARSES": "1"}.items():
        monkeypatch.setenv(f"TRACKER_{name}", value)
    get_settings.cache_clear()
    cache.clear()
    yield create_server(get_settings())
    cache.clear()
    get_settings.cache_clear()


def post(client: Any, token: str, content: bytes = BAD, filename: str = "runs.csv") -> Any:
    return client.post("/api/v1/disclosures", headers={"Authorization": f"Bearer {token}"},
                       data={"kind": "training_runs", "file": (io.BytesIO(content), filename)},
                       content_type="multipart/form-data")


def test_a_burst_of_identical_rejected_uploads_is_limited_and_raises_one_alert(app: Any) -> None:
    engine = get_engine()
    token = seed_accounts(engine, ["acme"], regulator=None)["acme"][0]
    client = app.test_client()
    answers = [post(client, token) for _ in range(20)]
    assert [a.status_code for a in answers] == [400] * 3 + [429] * 17
    limited = answers[3]
    seconds = int(limited.headers["Retry-After"])
    assert 1 <= seconds <= 10  # one filing's refill at 6 a minute, less what refilled while the three ran
    assert limited.json["errors"][0]["message"].startswith(
        f"too many filings from this token or provider; retry after {seconds} s (limits: 3 at once and 6 a minute "
        "per token, 5 at once and 10 a minute per provider)")
    assert len(filings(engine)) == 3
    with Session(engine) as session:
        assert len(session.exec(select(Alert).where(Alert.kind == "filing_rejected")).all()) == 1


def test_the_provider_bucket_spans_its_tokens_and_spares_other_providers(app: Any) -> None:
    engine = get_engine()
    tokens = seed_accounts(engine, ["acme", "rival"], regulator=None, tokens_per_provider=2)
    client = app.test_client()
    first, second = tokens["acme"]
    codes = [post(client, first).status_code for _ in range(3)] + [post(client, second).status_code for _ in range(3)]
    assert codes == [400, 400, 400, 400, 400, 429]  # five a provider at once, three a token
    assert post(client, tokens["rival"][0]).status_code == 400


def test_buckets_refill_at_their_rate(engine: Engine) -> None:
    rates = {"token:x": Rate(per_minute=60, burst=2)}
    now = utcnow()
    assert [take(engine, rates, now) for _ in range(2)] == [0.0, 0.0]
    assert take(engine, rates, now) == pytest.approx(1.0)
    assert take(engine, rates, now + timedelta(milliseconds=500)) == pytest.approx(0.5)
    assert take(engine, rates, now + timedelta(seconds=1)) == 0.0
    assert take(engine, rates, now + timedelta(seconds=1)) == pytest.approx(1.0)
    # A clock that went back refills nothing; a long pause refills to the burst, not beyond.
    assert refilled(Bucket(0.5, now), Rate(60, 2), now - timedelta(hours=1)) == 0.5
    assert refilled(Bucket(0.0, now), Rate(60, 2), now + timedelta(hours=1)) == 2.0
    assert wait_s(0.25, Rate(30, 1)) == pytest.approx(1.5) and wait_s(0.0, Rate(0, 1)) == float("inf")
    assert ratelimit.retry_after_header(0.2) == "1" and ratelimit.retry_after_header(float("inf")) == "3600"


def _workbook() -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet()
    sheet.write_row(0, 0, ["system", "run_id", "reported_flop"])
    sheet.write_row(1, 0, ["acme-lm", "r1", 1e24])
    book.close()
    return buffer.getvalue()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the slots are per process, not in the database
def test_a_heavy_upload_finding_every_parse_slot_taken_gets_503_and_nothing_is_stored(app: Any) -> None:
    engine = get_engine()
    token = seed_accounts(engine, ["acme"], regulator=None)["acme"][0]
    client = app.test_client()
    with parse_slots(1).held() as held:  # another upload is being parsed
        assert held
        busy = post(client, token, _workbook(), "runs.xlsx")
        small = post(client, token, b"system,run_id,reported_flop\nacme-lm,r2,1e24\n")
    assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
    assert "nothing was stored" in busy.json["errors"][0]["message"]
    assert small.status_code == 201  # a small text file needs no slot
    assert [f.filename for f in filings(engine)] == ["runs.csv"]
    assert post(client, token, _workbook(), "runs.xlsx").status_code == 201  # the slot is free again


def test_reading_a_superseded_receipt_says_what_superseded_it(app: Any) -> None:
    engine = get_engine()
    token = seed_accounts(engine, ["acme"], regulator=None)["acme"][0]
    client = app.test_client()
    first = post(client, token, b"system,run_id,reported_flop\nacme-lm,r1,1e24\n").json["accession"]
    later = post(client, token, b"system,run_id,reported_flop\nacme-lm,r1,2e24\n").json["accession"]
    refiled = post(client, token, b"system,run_id,reported_flop\nacme-lm,r1,1e24\n")
    assert refiled.status_code == 200 and refiled.json["accession"] == first
    assert refiled.json["superseded_by"] == [later] and refiled.json["current_records"] == 0
    read = client.get(f"/api/v1/disclosures/{first}", headers={"Authorization": f"Bearer {token}"})
    assert read.json["superseded_by"] == [later] and "not current" in read.json["note"]
