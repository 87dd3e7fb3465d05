"""At 1,024 px the pages write figures as ``3.8 × 10²⁵`` and instants as ``2026-12-04 04:05 UTC``,
and no figure or date breaks across lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.dashboard.conftest import Live, login, shot

pytestmark = pytest.mark.browser
SCIENTIFIC = re.compile(r"\d\.\d × 10[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
CODE_NOTATION = re.compile(r"\d[eE][+-]?\d{1,3}\b")
INSTANT = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC\b")
DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# How many lines an element's text takes: one client rect per line box of its contents.
LINES = "element => { const range = document.createRange(); range.selectNodeContents(element); " \
        "return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size; }"


@pytest.fixture
def narrow(browser: Any, live_server: Live) -> Iterator[Any]:
    # Measuring line boxes needs a script of the test's own, which the page's policy would refuse.
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 800},
                                  bypass_csp=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    login(page, "reg")
    yield page
    context.close()


def _one_line_each(page: Any, selector: str) -> int:
    """Every element matching ``selector`` holds its text on one line; returns how many there are."""
    elements = page.locator(selector)
    count = elements.count()
    for i in range(count):
        element = elements.nth(i)
        if not element.is_visible() or not element.inner_text().strip():
            continue
        assert element.evaluate(LINES) == 1, f"{selector} #{i} wraps: {element.inner_text()!r}"
    return count


def test_overview_writes_superscript_figures_on_one_line(narrow: Any) -> None:
    narrow.goto("/")
    narrow.wait_for_selector("#ov-scatter .scatterlayer .point")
    narrow.wait_for_selector("[data-dash-is-loading='true']", state="detached")
    text = narrow.inner_text("body")
    legend = " ".join(narrow.locator("#ov-scatter .legendtext").all_text_contents())
    assert SCIENTIFIC.search(legend), legend  # the threshold lines: "1.0 × 10²⁵ FLOP: ..."
    assert not CODE_NOTATION.search(text) and not CODE_NOTATION.search(legend)
    assert _one_line_each(narrow, ".stat-value") >= 3
    _one_line_each(narrow, "td.figure")
    shot(narrow, "format-overview-1024")


def test_grid_writes_superscript_figures_and_dates_on_one_line(narrow: Any) -> None:
    narrow.goto("/systems")
    narrow.wait_for_selector(".ag-center-cols-container .ag-cell[col-id='training_flop']:has-text('× 10')")
    cells = narrow.locator(".ag-center-cols-container .ag-cell[col-id='training_flop']")
    values = [v for v in cells.all_inner_texts() if v.strip()]
    assert values and all(SCIENTIFIC.search(v) for v in values if v != "—"), values
    assert "3.8 × 10²⁵ FLOP" in values  # acme-lm's estimate in the seeded registry
    assert _one_line_each(narrow, ".ag-center-cols-container .ag-cell[col-id='training_flop']") >= 5
    # The date columns lie to the right at 1,024 px: scroll the grid there (it renders what is shown).
    narrow.locator(".ag-center-cols-viewport").hover()
    dates: list[str] = []
    for _ in range(12):
        narrow.mouse.wheel(600, 0)
        narrow.wait_for_timeout(150)
        dates += [v for v in narrow.locator(".ag-center-cols-container .ag-cell").all_inner_texts() if DAY.search(v)]
    assert dates and all(DAY.fullmatch(v.strip()) for v in dates), dates  # 2024-07-23, never a timestamp
    assert not CODE_NOTATION.search(narrow.inner_text("body"))
    shot(narrow, "format-systems-1024")


def test_alerts_write_instants_in_utc_on_one_line(narrow: Any) -> None:
    narrow.goto("/alerts")
    narrow.wait_for_selector("table")
    text = narrow.inner_text("body")
    assert INSTANT.search(text), text[:500]
    assert not re.search(r"\d{4}-\d{2}-\d{2}T\d{2}", text)  # never an ISO timestamp
    assert _one_line_each(narrow, "td.figure") >= 2  # raised instants and deadlines
    shot(narrow, "format-alerts-1024")
