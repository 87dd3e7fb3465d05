"""The systems, regimes, alert, filings and not-found pages in real Chromium, on one server and one
browser for the module (SQLite; the queries behind them run on both backends in
test_pages_queries.py): pinned and regime-named columns, projected figures, a regimes page that fits
1,024 and 1,400 px with linked sources and no raw values, an alert's details, the pager's label and
the not-found page inside the app's shell."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.dashboard.conftest import app_settings, login, seeded_database, serving, shot
from tests.dashboard.pages_world import PagesWorld, seed_pages_world

pytestmark = pytest.mark.browser
EU_NAME = "EU AI Act: systemic-risk presumption"


@dataclass
class Served:
    url: str
    pages: PagesWorld


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    url, seeded = seeded_database(tmp_path_factory.mktemp("pages"), seed_pages_world)
    with serving(app_settings(url, base_url="http://127.0.0.1")) as server:
        yield Served(server.url, seeded)


@pytest.fixture(scope="module")
def contexts(browser: Any, served: Served) -> Iterator[dict[str, Any]]:
    """One signed-in page per account, kept for the module (signing in costs a few seconds each)."""
    opened: dict[str, Any] = {}
    for username in ("reg", "acme-user"):
        context = browser.new_context(base_url=served.url, viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(20_000)
        page = context.new_page()
        login(page, username)
        opened[username] = page
    yield opened
    for page in opened.values():
        page.context.close()


def _fits(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def test_systems_grid_pins_who_names_regimes_and_shows_projected_and_aged_figures(
        contexts: dict[str, Any]) -> None:
    page = contexts["reg"]
    page.goto("/systems")
    page.wait_for_selector(".ag-row >> text=acme-next")
    pinned = page.locator(".ag-pinned-left-header").inner_text()
    assert "Provider" in pinned and "System" in pinned
    assert page.locator(".ag-pinned-left-cols-container .ag-row >> text=acme-next").count() == 1
    headers = " ".join(page.locator(".ag-header-cell-text").all_inner_texts())
    assert EU_NAME in headers and "EU · eu-test-presumption act" in headers
    assert "eu-aia-gpaisr-presumption" not in headers and "Published" not in headers
    # the status comes before the figures, per regime and overall
    order = page.locator(".ag-header-row-column .ag-header-cell").evaluate_all(
        "cells => cells.map(c => c.getAttribute('col-id'))")
    assert order.index("status") < order.index("regime:eu-test-presumption") < order.index("training_flop")
    planned = page.locator(".ag-center-cols-container .ag-row", has=page.locator("text=1.1 × 10²⁷"))
    assert "(projected)" in planned.locator("[col-id='training_flop']").inner_text()
    assert "Above (projected)" in planned.locator("[col-id='regime:eu-test-presumption']").inner_text()
    assert "Above (projected)" in planned.locator("[col-id='status']").inner_text()
    aged = page.locator(".ag-center-cols-container .ag-row [col-id='inference_flop_30d']",
                        has_text="2025-01-01 – 2025-01-31")
    assert aged.count() == 1 and "4.0 × 10²³ FLOP" in aged.inner_text()
    # methods read whole: no cell's text is cut off
    methods = page.locator(".ag-center-cols-container [col-id='methods']", has_text="architecture, hardware, reported")
    assert methods.count() >= 1
    assert methods.first.evaluate("c => c.scrollWidth <= c.clientWidth")
    # the regime's own filter, by name in its column
    page.get_by_role("textbox", name=f"{EU_NAME} Filter Input").fill("above")
    page.wait_for_selector("#sys-count:has-text('0 systems match')")
    page.get_by_role("textbox", name=f"{EU_NAME} Filter Input").fill("")
    page.get_by_role("textbox", name="EU · eu-test-presumption act Filter Input").fill("likely above")
    page.wait_for_selector("#sys-count:has-text('1 systems match')")
    shot(page, "pages-systems")
    page.get_by_role("textbox", name="EU · eu-test-presumption act Filter Input").fill("")


@pytest.mark.parametrize("width", [1024, 1400])
def test_regimes_page_fits_reads_in_words_and_links_sources(contexts: dict[str, Any], width: int) -> None:
    page = contexts["reg"]
    page.set_viewport_size({"width": width, "height": 1000})
    try:
        page.goto("/regimes")
        page.wait_for_selector("#regimes-table")
        assert _fits(page)
        card = page.locator(".card", has=page.locator("#regimes-table"))
        assert card.evaluate("c => c.scrollWidth <= c.clientWidth")  # the table fits its card, no scrolling
        text = page.inner_text("#regimes-table")
        for raw in ("binding", "R/P3M", "P14D", "1e+06", "users_registered)", "{", "training_flop_cumulative"):
            assert raw not in text, raw
        assert EU_NAME in text and "within 2 weeks of crossing" in text
        assert "≥ 1,000,000 registered users" in text and "Binding law" in text and "Guidance" in text
        assert "Not assessable by the tracker: qualitative test with no number" in text
        link = page.locator("#regimes-table a.source-link", has_text="S-EU-51")
        assert link.first.get_attribute("href") == "https://ai-act-law.eu/article/51/"
        details = page.locator("#regime-details-eu-aia-gpaisr-presumption")
        details.locator("summary").click()
        fields = details.locator(".regime-fields").inner_text()
        assert "Deadline in the instrument's words" in fields and "within two weeks" in fields
        assert "Entry into force" in fields and "Counting rules" in fields and "{" not in fields
        assert _fits(page)
        shot(page, f"pages-regimes-{width}")
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})


def test_alert_detail_shows_the_change_figures_and_each_sink(contexts: dict[str, Any], served: Served) -> None:
    page, ids = contexts["reg"], served.pages.ids
    page.goto(f"/alerts/{ids['change']}")
    page.wait_for_selector("#alert-facts")
    facts = page.inner_text("#alert-facts")
    for expected in ("Previous status\tLikely above", "New status\tAbove", "Threshold\t> 1.0 × 10²⁵ FLOP",
                     "Figure\t3.8 × 10²⁵ FLOP (90% interval 2.9 × 10²⁵ – 4.9 × 10²⁵ FLOP)",
                     "Regime\tEU · eu-test-presumption act"):
        assert expected in facts, facts
    deliveries = page.inner_text("#alert-deliveries")
    assert "delivered" in deliveries and "failed" in deliveries and "pending" in deliveries
    assert "HTTP 503 from receiver" in deliveries and "token" not in deliveries
    assert page.locator("#alert-detail table", has_text="#").count() == 0  # not the list row again
    shot(page, "pages-alert-detail")
    page.goto(f"/alerts/{ids['discrepancy']}")
    page.wait_for_selector("#alert-facts")
    facts = page.inner_text("#alert-facts")
    assert "Reported by the provider\t1.0 × 10²⁴ FLOP" in facts and "Estimated by the tracker\t5.9 × 10²⁴ FLOP" in facts
    page.goto(f"/alerts/{ids['rejected']}")
    page.wait_for_selector("#alert-facts")
    page.click(f"#alert-facts a:has-text('{served.pages.accession}')")
    page.wait_for_url(re.compile(rf".*/filings/{served.pages.accession}$"))


def test_provider_sees_its_alerts_labelled_and_another_providers_alert_as_missing(
        contexts: dict[str, Any], served: Served) -> None:
    page = contexts["acme-user"]
    page.goto("/alerts")
    page.wait_for_selector("#open-alerts")
    text = page.inner_text("#alerts-content")
    assert "None" not in text and "by None" not in text
    assert page.locator("#open-alerts th").last.inner_text().strip().lower() == "acknowledged"
    assert "EU · eu-test-presumption act" in text and "eu-test-presumption\t" not in text
    page.goto(f"/alerts/{served.pages.ids['change']}")
    page.wait_for_selector("#alert-deliveries")
    assert "regulator.example.org" not in page.inner_text("#alert-deliveries")
    for forged in (served.pages.world.ids["alert_rival"], 999_999):
        page.goto(f"/alerts/{forged}")
        page.wait_for_selector("#alert-not-found")
        assert "There is no alert with this id that your account can see." in page.inner_text("#alert-not-found")


def test_filings_pager_has_a_label(contexts: dict[str, Any]) -> None:
    page = contexts["reg"]
    page.goto("/filings")
    page.wait_for_selector("#filings")
    box = page.get_by_label("Page", exact=True)
    assert box.get_attribute("id") == "filings-page"
    assert page.locator("label[for='filings-page']").inner_text().strip() == "Page"
    box.fill("2")
    box.press("Enter")
    page.wait_for_selector("text=No filings match.")


def test_an_unknown_path_gets_the_shell_and_a_way_home(contexts: dict[str, Any]) -> None:
    page = contexts["reg"]
    page.goto("/no/such/page")
    page.wait_for_selector("#not-found")
    assert page.locator("header.topbar #whoami").count() == 1
    assert "Page not found" in page.inner_text("#not-found")
    page.click("#not-found-home a")
    page.wait_for_url(re.compile(r".*/$"))
    shot(page, "pages-not-found")
