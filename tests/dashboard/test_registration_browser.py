"""Registration pages in real Chromium: the public register without login, the regulator's review
queue, and a provider's submission through the portal form.

The live server's database is shared by every browser test, so these tests touch only rows of
their own: registrations seeded once here (tests/dashboard/registration_factories.py) and a
voluntary registration of acme-mini, a system no other browser test looks at.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from tests.dashboard import registration_factories as rf
from tests.dashboard.conftest import Live, login, shot
from tracker.store.db import make_engine
from tracker.store.models import Registration, RegistrationSubmission

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def seeded(live_server: Live) -> rf.Registrations:
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        out = rf.seed_registrations(session, live_server.world.ids)
        session.commit()
    engine.dispose()
    return out


def _no_csp_violations(page: Any) -> None:
    assert [p for p in page.csp_problems if "Content Security Policy" in p or "Refused to" in p] == []


def test_the_public_register_shows_a_registered_system_without_login(page: Any, seeded: rf.Registrations) -> None:
    page.goto("/register")
    page.wait_for_selector(f"#register-table >> text={rf.ACME_NUMBER}")
    table = page.inner_text("#register-table")
    assert "acme-lm" in table and rf.XSS_NUMBER in table and "eu-test-presumption" in table
    assert "valid" in table and "revoked" in table
    # a provider-written name with HTML is shown as text
    assert page.locator("#register-table >> text=<img src=x onerror=alert(1)>").count() == 1
    assert "rival-secret" not in table and "acme-lm-chat" not in table  # not registered
    body = page.content()
    for secret in rf.CONFIDENTIAL:
        assert secret not in body, secret
    # anonymous: the register and the sign-in link, no private menu
    assert page.locator("a.nav-link").all_inner_texts() == ["Public register", "Sign in"]
    link = page.locator(f"#register-table a[href='/api/v1/certificates/{rf.ACME_NUMBER}']")
    assert link.count() == 1
    shot(page, "register-public")

    page.fill("#register-search", "rival")
    page.press("#register-search", "Enter")
    page.wait_for_selector(f"#register-table >> text={rf.ACME_NUMBER}", state="detached")
    assert rf.XSS_NUMBER in page.inner_text("#register-table")
    assert page.get_attribute("#register-csv", "href") == "/api/v1/register.csv?q=rival"
    shot(page, "register-searched")
    page.fill("#register-search", "no-such-system-anywhere")
    page.press("#register-search", "Enter")
    page.wait_for_selector("text=No registered system matches")
    _no_csp_violations(page)


def test_the_regulator_decides_a_submitted_registration(page: Any, live_server: Live,
                                                        seeded: rf.Registrations) -> None:
    login(page, "reg")
    page.click("a.nav-link:has-text('Review queue')")
    page.wait_for_selector("#review-queue")
    queue = page.inner_text("#review-queue")
    assert "acme-lm-chat" in queue and "rival-secret" in queue
    page.click(f"#review-queue a[href='/registrations?id={seeded.ids['submitted']}']")
    page.wait_for_selector("#registration-detail")
    assert "acme-contact-7731@example.test" in page.inner_text("#registration-detail")
    shot(page, "review-detail")
    page.click("#decide-submit")  # no reason yet: refused, with what is expected
    page.wait_for_selector("#decide-error-reason >> text=expected a written reason")
    page.fill("#decide-reason", "Notification complete; the compute figure matches the estimate.")
    page.click("#decide-submit")
    page.wait_for_selector("#decide-notice")
    assert "now registered" in page.inner_text("#decide-notice")
    assert "the compute figure matches" in page.inner_text("#registration-history")
    shot(page, "review-decided")
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        row = session.get(Registration, seeded.ids["submitted"])
        assert row is not None and row.state == "registered" and row.registration_number
        number = row.registration_number
    engine.dispose()
    page.goto("/register")
    page.wait_for_selector(f"#register-table >> text={number}")
    _no_csp_violations(page)


def _choose(page: Any, dropdown: str, text: str) -> None:
    """Pick the option of ``dropdown`` that contains ``text``: search for it once the menu's search
    box is open (typing before it has focus loses the keys on a busy machine), then click it."""
    page.click(dropdown)
    search = page.locator("input.dash-dropdown-search")
    search.wait_for()
    search.fill(text)
    page.locator(".dash-dropdown-option, [role=option]", has_text=text).first.click()
    assert text in page.inner_text(dropdown)


def test_a_provider_submits_through_the_portal_and_sees_only_its_own(page: Any, live_server: Live,
                                                                    seeded: rf.Registrations) -> None:
    login(page, "acme-user")
    page.click("a.nav-link:has-text('Registrations')")
    page.wait_for_selector("#my-registrations")
    listing = page.inner_text("#my-registrations")
    assert rf.ACME_NUMBER in listing and "rival-secret" not in listing and rf.XSS_NUMBER not in listing
    _choose(page, "#myreg-system", "acme-mini")
    _choose(page, "#myreg-regime", "eu-test-presumption")
    page.fill("#myreg-compute", "lots")
    page.click("#myreg-submit")
    page.wait_for_selector("#myreg-error-compute_flop >> text=expected a number such as 3.8e25")
    shot(page, "my-registrations-errors")
    page.fill("#myreg-compute", "2.1e23")
    page.fill("#myreg-contact", "registry@acme.example")
    page.check("#myreg-voluntary input[type=checkbox]")
    page.click("#myreg-submit")
    page.wait_for_selector("#myreg-notice")
    assert "is now submitted" in page.inner_text("#myreg-notice")
    page.wait_for_selector("#my-registrations >> text=acme-mini")
    shot(page, "my-registrations-submitted")
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        row = session.exec(select(Registration).where(Registration.system_id == live_server.world.ids["small"])).one()
        sub = session.exec(select(RegistrationSubmission).where(RegistrationSubmission.registration_id == row.id)).one()
    engine.dispose()
    assert row.voluntary and row.state == "submitted" and row.provider_id == live_server.world.ids["acme"]
    assert sub.channel == "portal" and sub.compute_flop == 2.1e23 and sub.contact == "registry@acme.example"
    _no_csp_violations(page)
