"""A provider's portal filing becomes an estimate on its system page without the nightly run: the
portal queues the evaluation, a worker runs it, and the portal says when the estimates are in.
A large file goes through the queue and its receipt appears in the portal. Real Chromium, a real
waitress server and a worker thread over one SQLite file; forged polls see nothing of another
provider's."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlmodel import Session, select

from dashboards.components.formatting import format_flop
from tests.dashboard import factories
from tests.dashboard.conftest import login
from tests.reliability.helpers import dash_callback, sign_in
from tracker.store.db import make_engine
from tracker.store.models import AISystem, Estimate, FilingJob

RUNS = (b"system,run_id,accelerator,accelerator_count,training_hours,precision\n"
        b"portal-vista,pv-1,H100-SXM,4096,1500,bf16\n")
QUEUE_ABOVE_BYTES = 4000
LARGE = b"system,run_id,accelerator,accelerator_count,training_hours,precision\n" + b"".join(
    f"portal-large,pl-{n},H100-SXM,1024,{100 + n},bf16\n".encode() for n in range(200))


@dataclass
class Site:
    url: str
    database_url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    import waitress.server

    from tracker.auth.users import create_user
    from tracker.config import Settings
    from tracker.store.migrate import upgrade
    from tracker.store.models import Provider
    from tracker.web.server import create_server
    from tracker.worker.runner import Worker

    folder = tmp_path_factory.mktemp("portal-evaluation")
    url = f"sqlite:///{folder / 'tracker.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        for slug in ("acme", "rival"):
            session.add(Provider(slug=slug, name=slug.title()))
            session.flush()
            create_user(session, username=f"{slug}-user", role="provider", password=factories.PASSWORD,
                        provider_slug=slug, actor="test")
        session.commit()
    engine.dispose()
    settings = Settings(database_url=url, environment="test", secret_key="test-secret-" + "y" * 32,
                        base_url="http://127.0.0.1", spool_dir=folder / "spool", worker_poll_seconds=0.2,
                        queue_upload_above_bytes=QUEUE_ABOVE_BYTES)
    server = waitress.server.create_server(create_server(settings), host="127.0.0.1", port=0, threads=4)
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    stop = threading.Event()
    worker = threading.Thread(target=Worker(settings, stop=stop).run, daemon=True)
    worker.start()
    yield Site(f"http://127.0.0.1:{server.effective_port}", url)  # type: ignore[union-attr]
    stop.set()
    worker.join(timeout=30)
    server.close()


@pytest.fixture
def portal(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(base_url=site.url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def test_a_portal_filing_becomes_an_estimate_on_the_system_page_without_the_nightly_run(
        portal: Any, site: Site) -> None:
    login(portal, "acme-user")
    portal.goto("/portal")
    portal.set_input_files("#portal-upload input[type=file]",
                           files=[{"name": "vista.csv", "mimeType": "text/csv", "buffer": RUNS}])
    portal.wait_for_selector("#receipt")
    portal.wait_for_selector("#portal-evaluation.evaluation-done")
    assert "Estimates updated" in portal.inner_text("#portal-evaluation")
    engine = make_engine(site.database_url)
    with Session(engine) as session:
        system = session.exec(select(AISystem).where(AISystem.name == "portal-vista")).one()
        estimate = session.exec(select(Estimate).where(Estimate.system_id == system.id, Estimate.kind == "training",
                                                       Estimate.is_current)).one()
    engine.dispose()
    assert estimate.central_flop is not None
    portal.goto(f"/systems/{system.id}")
    portal.wait_for_selector("#system-detail")
    assert format_flop(estimate.central_flop) in portal.inner_text("#system-detail")
    assert "No estimate yet" not in portal.inner_text("#system-detail")


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
