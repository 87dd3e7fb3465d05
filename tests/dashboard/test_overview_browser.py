"""The overview and system page in real Chromium, on a server with no base URL configured: aged
usage, projected systems, colours that match the status named in each hover, units, regime names,
alert links on the served port, and 1,024 px.

One server and one signed-in page for the module (SQLite; the queries are tested on both backends
in tests/store/test_figure_queries.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from dashboards.components.formatting import STATUS_COLOURS
from tests.dashboard import factories
from tests.dashboard.conftest import ARTIFACTS, app_settings, login, seeded_database, serving
from tests.dashboard.figure_factories import PLANNED_FLOP, RATIO, Planted, plant
from tracker.alerts.links import link_base_url, record_served_address
from tracker.alerts.outbox import AlertRequest, enqueue_many
from tracker.config import Settings
from tracker.store.db import make_engine
from tracker.store.models import Alert
from tracker.store.queries.overview import RECENT_DAYS, months_between
from tracker.units import format_flop, format_metric

pytestmark = pytest.mark.browser
PROJECTED = "Projected (planned or in-progress compute)"
LATEST_PERIOD_END = date(2026, 10, 31)  # the newest usage period in the seeded world


@dataclass
class Served:
    url: str
    port: int
    settings: Settings
    world: factories.World
    planted: Planted


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("overview")

    def seed(session: Session) -> tuple[factories.World, Planted]:
        world = factories.seed_world(session)
        return world, plant(session, world)

    url, (world, planted) = seeded_database(folder, seed)
    # No base_url: as a fresh checkout runs, alert links must follow the address served.
    settings = app_settings(url, login_attempts_per_minute=50, served_address_path=folder / "served-address.json")
    with serving(settings) as server:
        record_served_address(settings, "127.0.0.1", server.port)  # what tracker.web.listener.run does on start
        yield Served(server.url, server.port, settings, world, planted)


@pytest.fixture(scope="module")
def page(browser: Any, served: Served) -> Iterator[Any]:
    context = browser.new_context(base_url=served.url, viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    login(pg, "reg")
    yield pg
    context.close()


@pytest.fixture(autouse=True)
def _shot_on_failure(request: pytest.FixtureRequest, page: Any) -> Iterator[None]:
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"FAILED-{request.node.name}.png"), full_page=True)


def _overview(page: Any, width: int = 1400) -> None:
    page.set_viewport_size({"width": width, "height": 1000})
    page.goto("/")
    page.wait_for_selector("#ov-scatter .scatterlayer .point")


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _hovers(page: Any, points: Any = None) -> list[tuple[str, str]]:
    """(hover text, fill colour) of every plotted point (or of ``points``), hovering each in turn."""
    found = []
    for point in (points or page.locator("#ov-scatter .scatterlayer .point")).all():
        point.hover(force=True)
        label = page.locator("#ov-scatter .hoverlayer .hovertext")
        label.first.wait_for()
        style = point.get_attribute("style") or ""
        fill = re.search(r"fill: (rgb\([^)]*\))", style)
        # SVG text: one tspan per hover line.
        lines = label.first.locator("tspan.line").all_text_contents() or [label.first.text_content() or ""]
        found.append(("\n".join(lines), fill.group(1) if fill else ""))
        page.mouse.move(5, 5)
    return found


def _field(hover: str, name: str) -> str:
    match = re.search(rf"{name}: ([^\n]*)", hover)
    return match.group(1).strip() if match else ""


def test_aged_inference_usage_is_drawn_with_its_age(page: Any) -> None:
    _overview(page)
    page.wait_for_selector("#ov-inference-graph .scatterlayer .point")
    assert "No inference usage has been filed yet" not in page.inner_text("#ov-inference")
    note = page.inner_text("#ov-inference-note")
    # The latest period's figure with its date: rival-secret's 3e24 beside acme-lm's 1.1e24, both
    # in the period ending 2026-10-31.
    latest = f"{format_flop(3e24)} (rival/rival-secret, the largest of 2 systems) in the period ending 2026-10-31"
    today = date.today()
    if (today - LATEST_PERIOD_END).days > RECENT_DAYS:
        months = months_between(LATEST_PERIOD_END, today)
        assert f"Latest usage: {latest}, {months} month" in note, note
        assert "No usage period ended in the last 30 days" in note
    else:
        assert f"Latest: {latest}." in note, note
    legend = " ".join(page.locator("#ov-inference-graph .legendtext").all_text_contents())
    assert "acme/acme-mini" in legend  # only an aged period on file, no 30-day figure: still drawn


def test_a_projected_system_is_a_diamond_whose_hover_says_projected(page: Any) -> None:
    _overview(page)
    legend = page.locator("#ov-scatter .legend .traces")
    names = legend.locator(".legendtext").all_text_contents()
    assert PROJECTED in names
    # Traces and legend entries come in the figure's order: the projected trace's own points.
    trace = page.locator("#ov-scatter .scatterlayer .trace").nth(names.index(PROJECTED))
    paths = [p.get_attribute("d") or "" for p in trace.locator(".point").all()]
    circles = [p.get_attribute("d") or "" for p in page.locator("#ov-scatter .scatterlayer .trace").first
               .locator(".point").all()]
    assert paths and circles and not set(paths) & set(circles)  # a different marker from the circles
    planned = next(h for h, _ in _hovers(page, trace.locator(".point")) if "acme-planned" in h)
    assert f"projected training compute: {format_flop(PLANNED_FLOP)}" in planned
    assert _field(planned, "status") == "Above (projected)"
    assert _field(planned, "regime") == "US · us-test-model act"  # the highest threshold it crosses


def test_colours_match_the_status_each_hover_names(page: Any) -> None:
    _overview(page)
    page.wait_for_selector("#ov-scatter .legendtitletext")
    assert "most severe status over all regimes" in (page.text_content("#ov-scatter .legendtitletext") or "")
    labels = {"Above": "above", "Likely above": "likely_above", "Likely below": "likely_below", "Below": "below",
              "Unknown": "unknown"}
    seen = _hovers(page)
    assert len(seen) >= 8
    for hover, fill in seen:
        status = _field(hover, "status").removesuffix(" (projected)")
        assert fill == _rgb(STATUS_COLOURS[labels[status]]), hover
        assert _field(hover, "regime") and _field(hover, "reason"), hover
    big = next(h for h, _ in seen if h.startswith("acme-lm 2"))
    assert (_field(big, "regime"), _field(big, "status")) == ("EU · eu-test-presumption act", "Above")
    assert "whole 90% interval is past the threshold of 1.0" in _field(big, "reason")

    # Under one regime: its own statuses; a system it did not evaluate is Unknown, and says why.
    page.click("#ov-regime")
    page.click(".dash-dropdown-option:has-text('US · us-test-model act'), "
               "[role=option]:has-text('US · us-test-model act')")
    page.wait_for_selector("#ov-scatter .legendtitletext:has-text('status under US · us-test-model act')")
    seen = _hovers(page)
    chat = next((h, f) for h, f in seen if h.startswith("acme-lm-chat"))
    assert _field(chat[0], "status") == "Unknown" and chat[1] == _rgb(STATUS_COLOURS["unknown"])
    assert _field(chat[0], "regime") == "US · us-test-model act"
    assert _field(chat[0], "reason").startswith("not evaluated under this regime")
    for hover, fill in seen:
        assert fill == _rgb(STATUS_COLOURS[labels[_field(hover, "status").removesuffix(" (projected)")]]), hover


def test_regimes_are_named_on_the_cards_and_in_the_filter(page: Any) -> None:
    _overview(page)
    page.wait_for_selector("#ov-regime-counts")
    cells = page.locator("#ov-regime-counts tbody td:first-child").all_inner_texts()
    assert "EU · eu-test-presumption act" in cells and "eu-test-presumption" not in cells
    page.click("#ov-regime")
    page.wait_for_selector("[role=option] >> text=US · us-test-model act")  # the menu renders after the click
    options = page.locator(".dash-dropdown-option, [role=option]").all_inner_texts()
    assert "US · us-test-model act" in " ".join(options) and "us-test-model" not in options
    page.keyboard.press("Escape")


def test_a_ratio_is_written_in_its_own_unit(page: Any, served: Served) -> None:
    page.goto(f"/systems/{served.world.ids['tuned']}")
    page.wait_for_selector(".timeline")
    item = page.locator(".timeline li", has_text="eu-test-modifier act").inner_text()
    assert format_metric(RATIO, "modification_flop_ratio") in item and "FLOP" not in item
    assert "0.00404" in item  # three significant figures, not 0.00


def test_alert_links_point_at_the_served_port(page: Any, served: Served) -> None:
    engine = make_engine(served.settings.database_url)
    system_id = served.planted.planned
    with Session(engine) as session:
        # As the scheduler or a worker process would, from the settings alone (no base URL set).
        (alert_id,) = enqueue_many(session, [AlertRequest(kind="flag_change", idempotency_key="link-port",
                                                          payload={}, system_id=system_id)], served.settings)
        session.commit()
        alert = session.get(Alert, alert_id)
        assert alert is not None
        url = json.loads(alert.payload_json)["url"]
    engine.dispose()
    assert link_base_url(served.settings) == served.url
    assert url == f"{served.url}/systems/{system_id}" and f":{served.port}/" in url and ":8050" not in url
    page.goto(url)
    page.wait_for_selector("#system-detail")
    assert "acme-planned" in page.inner_text(".page-header")


@pytest.mark.parametrize("width", [1024, 1400])
def test_overview_and_system_page_fit_and_keep_figures_on_one_line(page: Any, served: Served, width: int) -> None:
    _overview(page, width)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.goto(f"/systems/{served.planted.planned}")
    page.wait_for_selector("#estimates-table")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert format_flop(PLANNED_FLOP) in page.inner_text("#estimates-table")
    assert "(projected)" in page.inner_text(".lineage")
    for figure in page.locator("#system-detail span.figure").all():
        box = figure.bounding_box()
        line = float(figure.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20"))
        assert box is not None and box["height"] < 1.6 * line, figure.inner_text()
    page.screenshot(path=str(_artifact(f"system-projected-{width}")), full_page=True)


def _artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
