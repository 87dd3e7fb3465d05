"""A live server (waitress in a thread, SQLite test database) and a headless Chromium.

Browser tests run on SQLite only: the query layer they exercise is tested on both backends in
tests/store/test_queries.py. With CI=true a missing Chromium fails the run instead of skipping.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest
from sqlmodel import Session

from tests.dashboard import factories

if TYPE_CHECKING:
    from tracker.config import Settings

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"
SECRET_KEY = "test-secret-" + "x" * 32
Seeded = TypeVar("Seeded")


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


@dataclass
class Served:
    url: str
    port: int


def seeded_database(folder: Path, seed: Callable[[Session], Seeded]) -> tuple[str, Seeded]:
    """An SQLite database in ``folder`` at the newest schema, filled by ``seed`` in one committed
    session; returns its URL and what ``seed`` returned."""
    from tracker.store.db import make_engine
    from tracker.store.migrate import upgrade

    url = f"sqlite:///{folder / 'tracker.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        seeded = seed(session)
        session.commit()
    engine.dispose()
    return url, seeded


def app_settings(database_url: str, **overrides: Any) -> Settings:
    """Settings for a served test app; ``base_url`` stays unset (links follow the served address)
    unless given."""
    from tracker.config import Settings

    return Settings(**{"database_url": database_url, "environment": "test", "secret_key": SECRET_KEY, **overrides})


@contextmanager
def serving(settings: Settings) -> Iterator[Served]:
    """The app under ``settings`` served by waitress in a thread on a free loopback port."""
    import waitress.server

    from tracker.web.server import create_server

    server = waitress.server.create_server(create_server(settings), host="127.0.0.1", port=0, threads=4)
    port = int(server.effective_port)  # type: ignore[union-attr]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{port}", port)
    finally:
        server.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    url, world = seeded_database(tmp_path_factory.mktemp("live"), factories.seed_world)
    settings = app_settings(url, base_url="http://127.0.0.1", login_attempts_per_minute=5)
    with serving(settings) as served:
        yield Live(url=served.url, world=world, database_url=url)


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
