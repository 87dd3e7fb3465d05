"""Real Chromium: an administrator sets the TC260 threshold on the dashboard; after the next
evaluation a system above it has its `cn-tc260-registration` flag, its tier, and (where
registration is built) an obligation. Its own live server and database: the evaluation it runs
would change the shared seeded registry of the other browser tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.dashboard.conftest import Live, app_settings, login, serving, shot
from tests.dashboard.factories import PASSWORD
from tests.registry.factories import add_system_with_run
from tracker.store import models

pytestmark = pytest.mark.browser
TC260 = "cn-tc260-registration"
AS_OF = date(2026, 11, 27)


@pytest.fixture(scope="module")
def tc260_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, dict[str, int]]]:
    from tracker.auth.users import create_user
    from tracker.registry.pipeline import run_evaluation
    from tracker.store.db import make_engine
    from tracker.store.migrate import upgrade

    path = tmp_path_factory.mktemp("tc260") / "tracker.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    # Llama 3.1 405B as filed (3.8e25 FLOP) and GPT-3 175B (3.14e23): one either side of 1e25.
    ids = {
        "llama": add_system_with_run(engine, provider="meta", system="Llama 3.1 405B", accelerator="NVIDIA H100 SXM5",
                                     chip_hours=30.84e6, precision="bf16", parameters=405e9,
                                     training_tokens=15.6e12, reported_flop=3.8e25, end_date=date(2024, 7, 1)),
        "gpt3": add_system_with_run(engine, provider="openai", system="GPT-3 175B", accelerator="NVIDIA V100 SXM2",
                                    accelerator_count=10_000, training_hours=355.2, precision="fp16",
                                    parameters=175e9, training_tokens=300e9, reported_flop=3.14e23),
    }
    with Session(engine) as session:
        create_user(session, username="admin", role="admin", password=PASSWORD)
        create_user(session, username="reg", role="regulator", password=PASSWORD)
        session.commit()
    run_evaluation(engine, AS_OF, actor="test")
    engine.dispose()
    with serving(app_settings(url, base_url="http://127.0.0.1", login_attempts_per_minute=5)) as server:
        yield Live(url=server.url, world=None, database_url=url), ids  # type: ignore[arg-type]


@pytest.fixture
def tc260_page(browser: Any, tc260_server: tuple[Live, dict[str, int]]) -> Iterator[Any]:
    context = browser.new_context(base_url=tc260_server[0].url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    problems: list[str] = []
    pg.on("pageerror", lambda e: problems.append(str(e)))
    pg.problems = problems  # type: ignore[attr-defined]
    yield pg
    context.close()


def _flag(url: str, system_id: int) -> models.Flag | None:
    from tracker.store.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return session.exec(select(models.Flag).where(models.Flag.subject_id == system_id,
                                                          models.Flag.regime_id == TC260)).one_or_none()
    finally:
        engine.dispose()


def test_admin_sets_the_tc260_threshold_and_the_next_evaluation_flags_the_system(
        tc260_page: Any, tc260_server: tuple[Live, dict[str, int]]) -> None:
    from tracker.registry.pipeline import run_evaluation
    from tracker.store.db import make_engine

    live, ids = tc260_server
    page = tc260_page
    # No number yet: the regime is not assessable, so the system has no flag under it.
    assert _flag(live.database_url, ids["llama"]) is None

    login(page, "reg")
    page.goto("/regime-thresholds")
    page.wait_for_selector("text=This page is for administrator accounts.")
    assert page.locator("#rs-submit").count() == 0
    page.context.clear_cookies()

    login(page, "admin")
    page.click("a.nav-link:has-text('Regime thresholds')")
    page.wait_for_selector("#rs-submit")
    chosen = page.inner_text("#rs-regime")
    assert "China TC260 framework: registration" in chosen and TC260 not in chosen
    assert "training_flop_cumulative" not in page.inner_text("#rs-metric")
    shot(page, "regime-thresholds-empty")
    page.fill("#rs-threshold", "1 × 10²⁵")
    page.click("#rs-submit")  # no reason yet: refused, nothing stored
    page.wait_for_selector("#rs-result .error-box:has-text('reason')")
    page.fill("#rs-reason", "Frontier systems register with the regulator (TC260 framework, reasoning capacity).")
    page.click("#rs-submit")
    page.wait_for_selector("#rs-done")
    # The regime by name and the metric in words, never their ids.
    assert ("China TC260 framework: registration: training compute, cumulative over the lineage (FLOP) "
            "≥ 1.0 × 10²⁵ FLOP, set by admin") in page.inner_text("#rs-done")
    history = page.inner_text("#rs-history-table")
    assert "in force" in history and "Frontier systems register" in history
    assert "China TC260 framework: registration" in history and "≥ 1.0 × 10²⁵ FLOP" in history
    assert TC260 not in history and "training_flop_cumulative" not in history
    shot(page, "regime-thresholds-set")

    engine = make_engine(live.database_url)
    try:
        run_evaluation(engine, AS_OF, actor="test")  # the next evaluation
        with Session(engine) as session:
            registration = getattr(models, "Registration", None)
            if registration is not None:
                opened = session.exec(select(registration).where(registration.system_id == ids["llama"],
                                                                 registration.regime_id == TC260)).all()
                assert [r.state for r in opened] == ["due"]
    finally:
        engine.dispose()
    flag = _flag(live.database_url, ids["llama"])
    assert flag is not None
    assert (flag.status, flag.threshold, flag.tier) == ("above", 1e25, "T1")
    gpt3 = _flag(live.database_url, ids["gpt3"])
    assert gpt3 is not None and gpt3.status == "below"

    page.goto(f"/systems/{ids['llama']}")
    page.wait_for_selector("#flags-table")
    row = page.locator("#flags-table tr", has_text="China TC260 framework: registration")
    assert "above" in row.inner_text().lower() and "T1" in row.inner_text()
    shot(page, "system-detail-tc260")
    page.goto(f"/systems/{ids['gpt3']}")
    page.wait_for_selector("#flags-table")
    gpai = page.locator("#flags-table tr", has_text="EU GPAI Guidelines: GPAI indicator").inner_text()
    assert "conditional: modality: generates language" in gpai
    page.goto("/systems")
    page.wait_for_selector(".ag-row >> text=GPT-3 175B")
    # The column is the grid's last: scroll right so that the grid renders it.
    page.hover(".ag-center-cols-container .ag-row >> nth=0")
    page.mouse.wheel(4000, 0)
    page.wait_for_selector(".ag-cell[col-id='flag_notes'] >> text=tier T1")
    grid = page.inner_text(".ag-center-cols-container")
    assert "EU GPAI Guidelines: GPAI indicator conditional: modality" in grid  # regimes by name
    assert "China TC260 framework: registration tier T1" in grid
    shot(page, "systems-grid-conditions")
    assert page.problems == []  # type: ignore[attr-defined]
