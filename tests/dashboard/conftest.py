"""A live server (waitress in a thread, SQLite test database) and a headless Chromium.

Browser tests run on SQLite only: the query layer they exercise is tested on both backends in
tests/store/test_queries.py. With CI=true a missing Chromium fails the run instead of skipping.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from tests.dashboard import factories

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"


@dataclass
class Live:
    url: str
    world: factories.World
    database_url: str


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    import waitress.server

    from tracker.config import Settings
    from tracker.store.db import make_engine
    from tracker.store.migrate import upgrade
    from tracker.web.server import create_server

    path = tmp_path_factory.mktemp("live") / "tracker.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        world = factories.seed_world(session)
        session.commit()
    engine.dispose()
    settings = Settings(database_url=url, environment="test", secret_key="test-secret-" + "x" * 32,
                        base_url="http://127.0.0.1", login_attempts_per_minute=5)
    app = create_server(settings)
    server = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield Live(url=f"http://127.0.0.1:{server.effective_port}", world=world,  # type: ignore[union-attr]
               database_url=url)
    server.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if IN_CI:
            pytest.fail(f"CI=true but {CHROMIUM} is missing: the browser tests cannot run")
        pytest.skip(f"{CHROMIUM} not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, live_server: Live, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.csp_problems = problems  # type: ignore[attr-defined]
    yield pg
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()


def login(pg: Any, username: str, password: str = factories.PASSWORD) -> None:
    pg.goto("/login")
    pg.fill("#username", username)
    pg.fill("#password", password)
    pg.click("#login-submit")
    pg.wait_for_selector("#whoami")


def shot(pg: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    pg.screenshot(path=str(target), full_page=True)
    return target
