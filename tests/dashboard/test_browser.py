"""Real-browser tests: headless Chromium against waitress on a seeded SQLite database.

Each test saves a screenshot of every page it visits under tests/artifacts/ (and another, named
FAILED-..., when it fails). They also fail on any Content-Security-Policy violation, which is how
we know the policy in tracker/web/security.py is one Dash actually works under.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.dashboard.conftest import Live, login, shot
from tracker.store.db import make_engine
from tracker.store.models import Alert, AuditEvent

pytestmark = pytest.mark.browser
VALID_CSV = b"system,run_id,reported_flop\nacme-portal-lm,portal-run-1,2.5e25\n"
INVALID_CSV = b"system,run_id,training_hours,reported_flop\nacme-bad,bad-run-1,-5,1e25\nacme-bad,bad-run-2,10,lots\n"
# A misspelt column beside rows with problems of their own, one an accelerator not in the catalog.
HEADER_AND_ROWS_CSV = (b"system,run_id,accelerator,accelerator_count,trainng_hours,reported_flop\n"
                       b"acme-two,r1,H100X,-8,100,1e24\n")


def _no_csp_violations(page: Any) -> None:
    violations = [p for p in page.csp_problems if "Content Security Policy" in p or "Refused to" in p]
    assert violations == []


def test_regulator_sees_overview_filters_grid_and_opens_a_system(page: Any, live_server: Live) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto("/systems")
    page.wait_for_selector("#login-submit")  # the gate sends a signed-out visitor to sign in
    shot(page, "login")
    login(page, "reg")
    page.wait_for_selector("#ov-scatter .scatterlayer .point")
    scatter = page.locator("#ov-scatter")
    # one horizontal line per threshold level, named in the legend with its regimes
    page.wait_for_selector("#ov-scatter .legendtext:has-text('eu-test-presumption')")
    legend = " ".join(scatter.locator(".legendtext").all_text_contents())
    assert "1.0 × 10²⁵ FLOP: EU · eu-test-presumption act" in legend and "us-test-model" in legend
    assert page.inner_text("#stat-systems") == "5"
    assert "Showing all 5 systems" in page.inner_text("#ov-sample-note")
    shot(page, "overview")

    page.click("a.nav-link:has-text('Systems')")
    page.wait_for_selector(".ag-row >> text=rival-secret")
    assert page.locator(".ag-center-cols-container .ag-row").count() == 5
    # a provider-written name with HTML is shown as text and never runs
    assert page.locator(".ag-row >> text=<img src=x onerror=alert(1)>").count() == 1
    page.get_by_role("textbox", name="System Filter Input").fill("acme-lm")
    # (wait_for_function would eval a string, which the page's CSP rightly refuses)
    page.wait_for_selector("#sys-count:has-text('2 systems match')")
    assert page.locator(".ag-center-cols-container .ag-row").count() == 2
    shot(page, "systems-filtered")

    page.locator(".ag-pinned-left-cols-container .ag-row", has_text="acme-lm-chat").first.click()  # name: pinned
    page.wait_for_url(re.compile(r".*/systems/\d+$"))
    page.wait_for_selector("#system-detail")
    assert "Lineage" in page.inner_text("#system-detail")
    assert page.locator(".lineage a:has-text('acme-lm 2')").count() == 1  # its base system
    shot(page, "system-detail-derived")
    page.goto(f"/systems/{live_server.world.ids['big']}")
    page.wait_for_selector("#method-table")
    assert "architecture" in page.inner_text("#method-table")
    assert "overdue" in page.inner_text("#flags-table")
    shot(page, "system-detail")
    for path, ready, name in (("/filings", "#filings", "filings"), ("/regimes", "#regimes-table", "regimes"),
                              (f"/filings/{live_server.world.accessions['bad']}", "#filing-errors",
                               "filing-rejected")):
        page.goto(path)
        page.wait_for_selector(ready)
        shot(page, name)
    assert dialogs == []
    _no_csp_violations(page)


def test_provider_files_sees_receipt_and_errors_and_cannot_see_others(page: Any, live_server: Live) -> None:
    login(page, "acme-user")
    page.click("a.nav-link:has-text('Provider portal')")
    page.wait_for_selector("#portal-upload")
    flags = [row.locator("td").all_inner_texts() for row in page.locator("#portal-flags tbody tr").all()]
    assert flags and all(row[1] == "EU · eu-test-presumption act" for row in flags), flags  # names, not ids
    assert {row[3] for row in flags} == {"3.8 × 10²⁵ FLOP", "3.9 × 10²⁵ FLOP"}  # its own systems only
    shot(page, "portal")
    page.set_input_files("#portal-upload input[type=file]",
                         files=[{"name": "runs.csv", "mimeType": "text/csv", "buffer": VALID_CSV}])
    page.wait_for_selector("#receipt")
    receipt = page.inner_text("#receipt")
    assert "accepted" in receipt and "runs.csv" in receipt
    shot(page, "portal-receipt")

    page.set_input_files("#portal-upload input[type=file]",
                         files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": INVALID_CSV}])
    page.wait_for_selector("#filing-errors")
    cells = [row.locator("td").all_inner_texts() for row in page.locator("#filing-errors tbody tr").all()]
    assert ["1", "training_hours"] in [c[:2] for c in cells]  # every problem, with its row and column
    assert ["2", "reported_flop"] in [c[:2] for c in cells]
    shot(page, "portal-errors")

    page.goto(f"/systems/{live_server.world.ids['secret']}")
    page.wait_for_selector(".error-box")
    assert "that your account can see" in page.inner_text(".error-box")
    assert "rival" not in page.inner_text("main").lower()
    shot(page, "provider-other-system")
    page.goto("/systems")
    page.wait_for_selector(".ag-row >> text=acme-lm")
    assert page.locator(".ag-row >> text=rival-secret").count() == 0
    _no_csp_violations(page)


def test_a_bad_header_and_bad_rows_are_reported_together_with_a_link_to_the_catalog(
        page: Any, live_server: Live) -> None:
    login(page, "acme-user")
    page.goto("/portal")
    page.wait_for_selector("#portal-upload")
    page.set_input_files("#portal-upload input[type=file]",
                         files=[{"name": "two.csv", "mimeType": "text/csv", "buffer": HEADER_AND_ROWS_CSV}])
    page.wait_for_selector("#filing-errors")
    cells = [row.locator("td").all_inner_texts() for row in page.locator("#filing-errors tbody tr").all()]
    # One round: the header's problem and the rows' problems in the same answer.
    assert [c[:2] for c in cells] == [["—", "header"], ["1", "accelerator"], ["1", "accelerator_count"]], cells
    assert "unknown column 'trainng_hours'; did you mean 'training_hours'?" in cells[0][2]
    assert "data/accelerators.csv" not in page.inner_text("#filing-errors")
    catalog = page.locator("#filing-errors a.catalog-link")
    assert catalog.count() == 1 and catalog.get_attribute("href") == "/api/v1/accelerators"
    shot(page, "portal-header-and-row-errors")
    answer = page.goto(catalog.get_attribute("href"))
    assert answer is not None and answer.status == 200 and "NVIDIA H100 SXM5" in page.inner_text("body")
    _no_csp_violations(page)


def test_regulator_acknowledges_an_alert(page: Any, live_server: Live) -> None:
    login(page, "reg")
    page.goto("/alerts")
    page.wait_for_selector("#open-alerts")
    shot(page, "alerts")
    row = page.locator("#open-alerts tbody tr").first
    alert_id = int(row.locator("td").first.inner_text().lstrip("#"))
    row.locator("button:has-text('Acknowledge')").click()
    page.wait_for_selector(f".notice:has-text('Alert {alert_id} acknowledged by reg')")
    shot(page, "alerts-acknowledged")
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None and alert.acknowledged_by == "reg" and alert.acknowledged_at is not None
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "alert.ack",
                                                       AuditEvent.entity_id == str(alert_id))).all()
        assert [e.actor for e in events] == ["reg"]
    engine.dispose()
    _no_csp_violations(page)


def test_admin_sees_accounts(page: Any, live_server: Live) -> None:
    login(page, "admin")
    page.click("a.nav-link:has-text('Admin')")
    page.wait_for_selector("#users-table")
    assert {"reg", "acme-user", "rival-user", "admin"} <= set(
        page.locator("#users-table tbody tr td:first-child").all_inner_texts())
    shot(page, "admin")
    _no_csp_violations(page)


def _pages(live: Live) -> dict[str, list[str]]:
    """Every page of the app, by the account that sees it."""
    ids, accessions = live.world.ids, live.world.accessions
    shared = ["/", "/systems", f"/systems/{ids['big']}", "/alerts", f"/alerts/{ids['alert_acme']}", "/filings",
              f"/filings/{accessions['good']}", "/regimes", "/register", "/no/such/page"]
    return {"reg": [*shared, "/registrations"], "admin": ["/admin", "/regime-thresholds"],
            "acme-user": ["/", "/systems", "/portal", "/my-registrations"]}


@pytest.mark.parametrize("width", [1024, 1400])
def test_every_page_fits_the_window_with_the_account_in_reach(page: Any, live_server: Live, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    for account, paths in _pages(live_server).items():
        page.context.clear_cookies()
        login(page, account)
        for path in paths:
            page.goto(path)
            page.wait_for_selector("main h1")
            page.wait_for_selector("[data-dash-is-loading='true']", state="detached")
            # Nothing wider than the window, and "Sign out" inside it (not pushed off by the links).
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (account, path)
            box = page.locator("#logout").bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, (account, path, box)
    _no_csp_violations(page)
