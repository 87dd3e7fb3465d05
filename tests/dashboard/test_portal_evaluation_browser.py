"""A provider's portal filing becomes an estimate on its system page without the nightly run: the
portal queues the evaluation, a worker runs it within the alert-latency target, and the receipt and
the portal say when the estimates appear and when they are in. A large file goes through the queue and its
receipt appears in the portal. Real Chromium, a real waitress server and a worker thread over one SQLite
file; forged polls see nothing of another provider's."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlmodel import Session, select

from dashboards.components.formatting import format_flop
from tests.dashboard import factories
from tests.dashboard.conftest import app_settings, login, seeded_database, serving
from tests.reliability.helpers import dash_callback, sign_in
from tracker.store.db import make_engine
from tracker.store.models import AISystem, Estimate, Filing, FilingJob

RUNS = (b"system,run_id,accelerator,accelerator_count,training_hours,precision\n"
        b"portal-vista,pv-1,H100-SXM,4096,1500,bf16\n")
QUEUE_ABOVE_BYTES = 4000
# What the receipt promises while the evaluation is queued (TRACKER_EVALUATION_EXPECTED_WITHIN_S).
EXPECTED_WITHIN_S = 10
# Filed to evaluated, on the server: the alert-latency target of a filing that queues its own
# evaluation (API and portal: 1 s; bench/alert_latency.py measures its p95 on PostgreSQL).
EVALUATION_TARGET_S = 1.0
# Upload to "Estimates updated" in the provider's browser: the evaluation, then the portal's poll
# once a second, within the polled channels' target (poll interval + 2 s = 4 s).
PORTAL_TARGET_S = 4.0
LARGE = b"system,run_id,accelerator,accelerator_count,training_hours,precision\n" + b"".join(
    f"portal-large,pl-{n},H100-SXM,1024,{100 + n},bf16\n".encode() for n in range(200))


@dataclass
class Site:
    url: str
    database_url: str


def _two_providers(session: Session) -> None:
    from tracker.auth.users import create_user
    from tracker.store.models import Provider

    for slug in ("acme", "rival"):
        session.add(Provider(slug=slug, name=slug.title()))
        session.flush()
        create_user(session, username=f"{slug}-user", role="provider", password=factories.PASSWORD,
                    provider_slug=slug, actor="test")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    from tracker.worker.runner import Worker

    folder = tmp_path_factory.mktemp("portal-evaluation")
    url, _ = seeded_database(folder, _two_providers)
    settings = app_settings(url, base_url="http://127.0.0.1", spool_dir=folder / "spool", worker_poll_seconds=0.2,
                            queue_upload_above_bytes=QUEUE_ABOVE_BYTES, evaluation_expected_within_s=EXPECTED_WITHIN_S)
    stop = threading.Event()
    worker = threading.Thread(target=Worker(settings, stop=stop).run, daemon=True)
    with serving(settings) as server:
        worker.start()
        yield Site(server.url, url)
        stop.set()
        worker.join(timeout=30)


@pytest.fixture
def portal(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(base_url=site.url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def test_a_portal_filing_becomes_an_estimate_on_the_system_page_within_the_latency_target(
        portal: Any, site: Site) -> None:
    login(portal, "acme-user")
    portal.goto("/portal")
    started = time.monotonic()
    portal.set_input_files("#portal-upload input[type=file]",
                           files=[{"name": "vista.csv", "mimeType": "text/csv", "buffer": RUNS}])
    portal.wait_for_selector("#receipt")
    # The receipt says when the estimates will appear (a worker may, rarely, already have run).
    promise = portal.locator("#receipt tr", has_text="Estimates").inner_text()
    assert (f"they appear within about {EXPECTED_WITHIN_S} seconds" in promise
            or "Estimates updated" in promise), promise
    portal.wait_for_selector("#portal-evaluation.evaluation-done", timeout=EXPECTED_WITHIN_S * 1000)
    seen_after_s = time.monotonic() - started
    assert "Estimates updated" in portal.inner_text("#portal-evaluation")
    engine = make_engine(site.database_url)
    with Session(engine) as session:
        system = session.exec(select(AISystem).where(AISystem.name == "portal-vista")).one()
        estimate = session.exec(select(Estimate).where(Estimate.system_id == system.id, Estimate.kind == "training",
                                                       Estimate.is_current)).one()
        filing = session.exec(select(Filing).where(Filing.filename == "vista.csv")).one()
    engine.dispose()
    assert estimate.central_flop is not None
    # Filed to evaluated, on the server, then shown to the provider: each within its target.
    evaluated_after_s = (_utc(estimate.computed_at) - _utc(filing.filed_at)).total_seconds()
    assert 0 <= evaluated_after_s <= EVALUATION_TARGET_S, evaluated_after_s
    portal.goto(f"/systems/{system.id}")
    portal.wait_for_selector("#system-detail")
    assert format_flop(estimate.central_flop) in portal.inner_text("#estimates-table")
    assert "No estimate yet" not in portal.inner_text("#system-detail")
    assert seen_after_s <= PORTAL_TARGET_S, seen_after_s


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def test_a_large_portal_filing_is_queued_and_its_receipt_appears(portal: Any, site: Site) -> None:
    login(portal, "acme-user")
    portal.goto("/portal")
    portal.set_input_files("#portal-upload input[type=file]",
                           files=[{"name": "large.csv", "mimeType": "text/csv", "buffer": LARGE}])
    portal.wait_for_selector("#portal-queued")
    portal.wait_for_selector("#receipt")
    receipt = portal.inner_text("#receipt")
    assert "accepted" in receipt and "large.csv" in receipt
    portal.wait_for_selector("#portal-evaluation.evaluation-done")
    engine = make_engine(site.database_url)
    with Session(engine) as session:
        (job,) = session.exec(select(FilingJob).where(FilingJob.job_type == "filing")).all()
        assert (job.status, job.channel, job.filed_by) == ("done", "portal", "acme-user")
    engine.dispose()


def test_a_forged_poll_sees_nothing_of_another_providers_filing(site: Site, tmp_path: Path) -> None:
    from tracker.config import Settings
    from tracker.filing.service import file_disclosure
    from tracker.store.models import Provider
    from tracker.worker.queue import enqueue_upload

    engine = make_engine(site.database_url)
    filed = file_disclosure(engine, content=LARGE.replace(b"portal-large", b"forged-target"), filename="large.csv",
                            kind="training_runs", provider_slug="acme", filed_by="test", channel="cli")
    with Session(engine) as session:
        acme = session.exec(select(Provider).where(Provider.slug == "acme")).one()
    assert acme.id is not None
    queued = enqueue_upload(engine, Settings(database_url=site.database_url, spool_dir=tmp_path), content=LARGE,
                            filename="large.csv", kind="training_runs", provider_id=acme.id, provider_slug="acme",
                            filed_by="test", channel="api")
    engine.dispose()
    with requests.Session() as http:
        assert sign_in(http, site.url, "rival-user", factories.PASSWORD).status_code == 302
        answers = {}
        for name, pending in {"job": {"job": queued.public_id}, "accession": {"accession": filed.accession},
                              "malformed": {"job": ["x"]}}.items():
            answers[name] = dash_callback(
                http, site.url, "..portal-status.children...portal-poll.disabled..",
                [{"id": "portal-pending", "property": "data", "value": pending},
                 {"id": "portal-poll", "property": "n_intervals", "value": 1}])
        for answer in answers.values():
            assert str(filed.accession) not in answer.text and "large.csv" not in answer.text
        assert answers["job"].status_code == 200 and "no queued filing with this id" in answers["job"].text
        assert answers["accession"].status_code == 200 and "no filing with this accession" in answers["accession"].text
        assert answers["malformed"].status_code == 400
