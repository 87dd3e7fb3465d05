"""The review queue and the provider's registrations, driven through forged Dash callbacks.

A regulator reads a contested registration whole and decides with a written reason; a provider
sees and submits its own registrations only, and cannot read or decide another provider's,
whatever ids it sends. Every write is checked in the database afterwards.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.dashboard import factories
from tests.dashboard import registration_factories as rf
from tests.web.conftest import Site, callback
from tracker.store.models import Registration, RegistrationEvent, RegistrationSubmission

PAGES = ".._pages_content.children..._pages_store.data.."
DECIDE = ("..decide-result.children...decide-detail.children...decide-form-box.children"
          "...decide-error-decision.children...decide-error-reason.children..")
FIELDS = ("system", "regime", "compute_flop", "compute_method", "crossed_on", "contact", "contest", "attachments")
SUBMIT = "..myreg-result.children...myreg-list.children..." + "...".join(
    f"myreg-error-{f}.children" for f in FIELDS) + ".."


@pytest.fixture
def site(engine: Engine, db_url: str) -> Iterator[Site]:
    """tests/web's site, with a signing key in the settings so that registering issues a certificate
    (without one a development server would write a generated key into the working tree)."""
    from dashboards.components import cache
    from tracker.config import Settings
    from tracker.web.server import create_server

    with Session(engine) as session:
        world = factories.seed_world(session)
        session.commit()
    cache.clear()
    pem = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    settings = Settings(database_url=db_url, environment="test", secret_key="t" * 40, login_attempts_per_minute=3,
                        signing_key=pem)
    yield Site(create_server(settings), world, engine)
    cache.clear()


@pytest.fixture
def registered(site: Site) -> rf.Registrations:
    with Session(site.engine) as session:
        seeded = rf.seed_registrations(session, site.world.ids)
        session.commit()
    return seeded


def open_page(client: FlaskClient, path: str, search: str = "") -> Any:
    response = callback(client, PAGES, [("_pages_location", "pathname", path), ("_pages_location", "search", search)])
    assert response.status_code == 200, response.text
    return response


def decide(client: FlaskClient, registration_id: Any, decision: Any, reason: Any) -> Any:
    return callback(client, DECIDE, [("decide-submit", "n_clicks", 1)],
                    [("decide-id", "data", registration_id), ("decide-decision", "value", decision),
                     ("decide-reason", "value", reason)])


def submit(client: FlaskClient, **values: Any) -> Any:
    form = {"system": None, "regime": "eu-test-presumption", "compute": "4.1e25", "method": "hardware",
            "crossed": "2026-01-05", "contact": "compliance@acme.example", "contest": None, "voluntary": [],
            "contents": None, "filenames": None, **values}
    ids = [("myreg-system", "value"), ("myreg-regime", "value"), ("myreg-compute", "value"),
           ("myreg-method", "value"), ("myreg-crossed", "value"), ("myreg-contact", "value"),
           ("myreg-contest", "value"), ("myreg-voluntary", "value"), ("myreg-attachments", "contents"),
           ("myreg-attachments", "filename")]
    return callback(client, SUBMIT, [("myreg-submit", "n_clicks", 1)],
                    [(i, p, v) for (i, p), v in zip(ids, form.values(), strict=True)])


def state_of(site: Site, registration_id: int) -> str:
    with Session(site.engine) as session:
        row = session.get(Registration, registration_id)
        assert row is not None
        return row.state


def event_count(site: Site) -> int:
    with Session(site.engine) as session:
        return len(session.exec(select(RegistrationEvent)).all())


def test_the_regulator_reads_a_contested_registration_whole(site: Site, registered: rf.Registrations) -> None:
    regulator = site.login("reg")
    queue = open_page(regulator, "/registrations").text
    # Submitted and contested, earliest deadline first: rival's (5 days) before acme-lm-chat's (10).
    assert queue.index("rival-secret") < queue.index("acme-lm-chat")
    assert rf.ACME_NUMBER not in queue  # registered: not waiting for a decision
    detail = open_page(regulator, "/registrations", f"?id={registered.ids['contested']}").text
    for shown in ("RIVAL-CONTEST-ARGUMENT-not-systemic", "rival-model-card-8842.pdf", "rival-contact-5519@example.test",
                  "crossed the threshold", "Accept the contest"):
        assert shown in detail, shown


@pytest.mark.parametrize("user", ["acme-user", "rival-user"])
def test_providers_get_no_review_queue(site: Site, registered: rf.Registrations, user: str) -> None:
    page = open_page(site.login(user), "/registrations", f"?id={registered.ids['contested']}").text
    assert "for regulators" in page and "RIVAL-CONTEST" not in page and "decide-submit" not in page


def test_a_regulator_registers_with_a_reason_and_the_history_keeps_it(site: Site,
                                                                      registered: rf.Registrations) -> None:
    regulator = site.login("reg")
    rid = registered.ids["submitted"]
    missing = decide(regulator, rid, "register", "   ")
    assert missing.status_code == 200
    assert "expected a written reason" in missing.json["response"]["decide-error-reason"]["children"]["props"][
        "children"]
    assert state_of(site, rid) == "submitted"
    wrong = decide(regulator, rid, "accept_contest", "no contest was made")
    assert "expected one of" in wrong.text and state_of(site, rid) == "submitted"
    done = decide(regulator, rid, "register", "Complete notification; figures match the estimate.")
    assert done.status_code == 200 and "now registered" in done.text, done.text
    with Session(site.engine) as session:
        row = session.get(Registration, rid)
        assert row is not None and row.state == "registered" and row.registration_number
        assert row.registration_number in done.text
        reasons = [e.reason for e in session.exec(select(RegistrationEvent).where(
            RegistrationEvent.registration_id == rid, RegistrationEvent.action == "register"))]
    assert reasons == ["Complete notification; figures match the estimate."]
    public = site.client().get(f"/api/v1/register?q={row.registration_number}").json["registrations"]
    assert [r["system"] for r in public] == ["acme-lm-chat"]


def test_accepting_a_contest_ends_not_designated(site: Site, registered: rf.Registrations) -> None:
    rid = registered.ids["contested"]
    response = decide(site.login("admin"), rid, "accept_contest", "Art. 52(2) arguments hold: no systemic risk.")
    assert "not_designated" in response.text and state_of(site, rid) == "not_designated"


@pytest.mark.parametrize("registration_id", ["contested", "submitted"])
def test_a_provider_cannot_decide_even_its_own_or_anothers(site: Site, registered: rf.Registrations,
                                                          registration_id: str) -> None:
    rid = registered.ids[registration_id]
    before = state_of(site, rid)
    response = decide(site.login("acme-user"), rid, "register", "I register myself")
    assert response.status_code == 200 and "Only regulators" in response.text
    assert "RIVAL" not in response.text and state_of(site, rid) == before


@pytest.mark.parametrize("forged_id", [None, "1 OR 1=1", -1, 2**70, "abc", {"id": 1}, [1], True, 99999])
def test_a_forged_registration_id_is_refused_without_a_trace(site: Site, registered: rf.Registrations,
                                                            forged_id: Any) -> None:
    before = event_count(site)
    response = decide(site.login("reg"), forged_id, "register", "a reason")
    assert response.status_code == 200
    assert "no registration with this id" in response.text
    assert event_count(site) == before


def test_a_provider_sees_its_own_registrations_only(site: Site, registered: rf.Registrations) -> None:
    acme = site.login("acme-user")
    listing = open_page(acme, "/my-registrations").text
    assert "acme-lm-chat" in listing and rf.ACME_NUMBER in listing
    assert "rival-secret" not in listing and rf.XSS_NUMBER not in listing
    own = open_page(acme, "/my-registrations", f"?id={registered.ids['registered']}").text
    assert "acme-contact-7731@example.test" in own and "complete notification" in own
    for rival_id in (registered.ids["contested"], registered.ids["xss"]):
        other = open_page(acme, "/my-registrations", f"?id={rival_id}").text
        assert "no registration with this id that your account can see" in other
        for secret in ("RIVAL-CONTEST", "rival-model-card", "rival-contact", "rival-secret", rf.XSS_NUMBER):
            assert secret not in other, secret
    assert "Registrations are submitted by provider accounts" in open_page(site.login("reg"), "/my-registrations").text


def test_a_provider_submits_through_the_portal_form(site: Site) -> None:
    acme = site.login("acme-user")
    body = base64.b64encode(b"%PDF-1.4 model card").decode()
    response = submit(acme, system=str(site.world.ids["big"]), contents=[f"data:application/pdf;base64,{body}"],
                      filenames=["card.pdf"])
    assert response.status_code == 200 and "is now submitted" in response.text, response.text
    with Session(site.engine) as session:
        row = session.exec(select(Registration).where(Registration.system_id == site.world.ids["big"])).one()
        sub = session.exec(select(RegistrationSubmission).where(RegistrationSubmission.registration_id == row.id)).one()
    assert row.provider_id == site.world.ids["acme"] and row.state == "submitted"
    assert sub.channel == "portal" and sub.submitted_by == "acme-user" and sub.compute_flop == 4.1e25
    assert sub.contact == "compliance@acme.example"
    assert "acme-lm" in str(response.json["response"]["myreg-list"])  # the list is refreshed


def test_a_forged_system_of_another_provider_is_refused_like_an_unknown_one(site: Site) -> None:
    acme = site.login("acme-user")
    for forged in (site.world.ids["secret"], "99999", "1; DROP TABLE ai_system", None):
        response = submit(acme, system=str(forged) if forged is not None else None)
        errors = response.json["response"]["myreg-error-system"]["children"]
        assert "not one of your systems" in str(errors), forged
        assert "rival" not in response.text.lower()
    with Session(site.engine) as session:
        assert session.exec(select(Registration)).first() is None  # nothing half-stored


def test_submission_errors_are_shown_per_field_with_what_is_expected(site: Site) -> None:
    acme = site.login("acme-user")
    response = submit(acme, system=str(site.world.ids["big"]), compute="lots", crossed="05/01/2026",
                      contents=["data:application/octet-stream;base64," + base64.b64encode(b"\xff\xfe\x00").decode()],
                      filenames=["blob.bin"])
    out = response.json["response"]
    assert "expected a number such as 3.8e25" in str(out["myreg-error-compute_flop"]["children"])
    assert "expected an ISO date" in str(out["myreg-error-crossed_on"]["children"])
    assert out["myreg-error-system"]["children"] is None
    bad_file = submit(acme, system=str(site.world.ids["big"]),
                      contents=["data:application/octet-stream;base64," + base64.b64encode(b"\xff\xfe\x00").decode()],
                      filenames=["blob.bin"]).json["response"]
    assert "expected a PDF or a UTF-8 text file" in str(bad_file["myreg-error-attachments"]["children"])
    with Session(site.engine) as session:
        assert session.exec(select(Registration)).first() is None


def test_the_submission_form_refuses_a_regulator(site: Site) -> None:
    response = submit(site.login("reg"), system=str(site.world.ids["big"]))
    assert "Registrations are submitted by provider accounts" in response.text
    with Session(site.engine) as session:
        assert session.exec(select(Registration)).first() is None
