"""The public register without a login, and nothing else without a login.

Anonymous requests are forged by hand, as any script could: every dashboard callback except the
register's answers 401 with no data; the register's callback and ``GET /api/v1/register`` (JSON
and CSV) return public fields only, whatever the inputs. Confidential values are planted in the
database (tests/dashboard/registration_factories.py) and looked for in every response body.
"""

from __future__ import annotations

import csv
import io
import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlmodel import Session

from tests.dashboard import registration_factories as rf
from tests.web.conftest import ORIGIN, Site, callback
from tracker.api.register import PUBLIC_FIELDS
from tracker.store.models import Registration
from tracker.web.public import PAGE_ROUTER_OUTPUT, PUBLIC_CALLBACK_OUTPUTS, REGISTER_CALLBACK_OUTPUT

PRIVATE_PATHS = ("/", "/systems", "/alerts", "/filings", "/regimes", "/portal", "/admin", "/registrations",
                 "/my-registrations", "/systems/1", "/filings/T-000001", "/nonexistent")


@pytest.fixture
def registered(site: Site) -> rf.Registrations:
    with Session(site.engine) as session:
        seeded = rf.seed_registrations(session, site.world.ids)
        session.commit()
    return seeded


def assert_nothing_confidential(text: str) -> None:
    for value in rf.CONFIDENTIAL:
        assert value not in text, value


def assert_no_confidential_field(text: str) -> None:
    """Neither the names of confidential fields nor the seeded estimates (3.8e25, 2e26 FLOP)."""
    for name in ("compute_flop", "compute_method", "contact", "contest", "attachment", "sha256", "estimate",
                 "central", "3.8e+25", "2e+26", "3.9e+25"):
        assert name not in text, name


def hrefs(tree: Any) -> set[str]:
    """Every link target in a Dash layout."""
    if isinstance(tree, dict):
        own = {tree["href"]} if isinstance(tree.get("href"), str) else set()
        return own.union(*(hrefs(v) for v in tree.values()))
    if isinstance(tree, list):
        return set().union(*(hrefs(v) for v in tree))
    return set()


def table_text(tree: Any, inside: bool = False) -> str:
    """The text of every table in a Dash layout (what the register lists, not what it echoes)."""
    if isinstance(tree, dict):
        inside = inside or tree.get("type") == "Table"
        return " ".join(table_text(v, inside) for v in tree.values())
    if isinstance(tree, list):
        return " ".join(table_text(v, inside) for v in tree)
    return str(tree) if inside and isinstance(tree, str | int | float) else ""


def register_callback(client: FlaskClient, search: Any = "", page: Any = 1, *,
                      outputs: str = REGISTER_CALLBACK_OUTPUT) -> Any:
    return callback(client, outputs, [("register-search", "value", search), ("register-page", "value", page)])


def route(client: FlaskClient, path: Any, search: Any = "") -> Any:
    return callback(client, PAGE_ROUTER_OUTPUT, [("_pages_location", "pathname", path),
                                                 ("_pages_location", "search", search)])


def test_the_register_page_and_the_dash_bootstrap_are_served_without_login(site: Site,
                                                                          registered: rf.Registrations) -> None:
    anonymous = site.client()
    assert anonymous.get("/register").status_code == 200
    layout = anonymous.get("/_dash-layout")
    assert layout.status_code == 200
    # The shell offers an anonymous visitor the register and the sign-in link, no private menu.
    assert hrefs(layout.json) == {"/", "/register", "/login"}
    assert "/registrations" in hrefs(site.login("reg").get("/_dash-layout").json)
    page = route(anonymous, "/register")
    assert page.status_code == 200 and "Public register" in page.text
    assert anonymous.get("/_dash-dependencies").status_code == 200


def test_every_other_page_and_callback_answers_401_to_an_anonymous_caller(site: Site,
                                                                        registered: rf.Registrations) -> None:
    anonymous = site.client()
    for path in PRIVATE_PATHS:
        assert anonymous.get(path).status_code in (200, 302), path  # the login form or a redirect to it
        if path != "/":
            assert anonymous.get(path).headers["Location"].startswith("/login"), path
        response = route(anonymous, path)
        assert response.status_code == 401, path
        assert response.json == {"error": "sign in first"}, path
    dependencies = anonymous.get("/_dash-dependencies").json
    forged = 0
    for dep in dependencies:
        output = dep["output"]
        if output in PUBLIC_CALLBACK_OUTPUTS or output == PAGE_ROUTER_OUTPUT:
            continue
        body = {"output": output, "outputs": [], "changedPropIds": [],
                "inputs": [{"id": i["id"], "property": i["property"], "value": 1} for i in dep["inputs"]],
                "state": [{"id": s["id"], "property": s["property"], "value": 1} for s in dep["state"]]}
        response = anonymous.post("/_dash-update-component", json=body, headers={"Origin": ORIGIN})
        assert response.status_code == 401, output
        assert response.json == {"error": "sign in first"}, output
        forged += 1
    assert forged >= 10  # every page's callbacks were tried, not an empty list


def test_the_page_router_serves_only_the_register_even_with_forged_inputs(site: Site,
                                                                         registered: rf.Registrations) -> None:
    anonymous = site.client()
    # The router takes the path from the first input by position: another id or a list changes nothing.
    forged = callback(anonymous, PAGE_ROUTER_OUTPUT, [("anything", "pathname", "/systems"),
                                                      ("_pages_location", "search", "")])
    assert forged.status_code == 401
    for value in (["/register"], {"path": "/register"}, None, 7, "/register/../systems", "//register"):
        assert route(anonymous, value).status_code == 401, value
    # Query parameters reach the register's layout as keyword arguments: harmless ones only.
    page = route(anonymous, "/register", "?q=acme&scope=admin&provider_id=2")
    assert page.status_code == 200 and "acme" in page.text
    assert_nothing_confidential(page.text)
    not_json = anonymous.post("/_dash-update-component", data="output=x", headers={"Origin": ORIGIN})
    assert not_json.status_code == 401


def test_the_register_callback_shows_registered_systems_and_public_fields_only(site: Site,
                                                                             registered: rf.Registrations) -> None:
    anonymous = site.client()
    response = register_callback(anonymous)
    assert response.status_code == 200, response.text
    text = response.text
    assert rf.ACME_NUMBER in text and rf.XSS_NUMBER in text
    assert "acme-lm" in text and "eu-test-presumption" in text
    assert {f"/api/v1/certificates/{rf.ACME_NUMBER}", f"/api/v1/certificates/{rf.XSS_NUMBER}"} <= hrefs(response.json)
    assert "valid" in text and "revoked" in text
    # Submitted and contested registrations are not in the register: not even their systems' names.
    assert "acme-lm-chat" not in text and "rival-secret" not in text
    assert_nothing_confidential(text)
    narrowed = register_callback(anonymous, "acme").text
    assert rf.ACME_NUMBER in narrowed and rf.XSS_NUMBER not in narrowed
    exports = response.json["response"]
    assert exports["register-csv"]["href"] == "/api/v1/register.csv"
    assert register_callback(anonymous, "acme lm").json["response"]["register-json"]["href"] == \
        "/api/v1/register?q=acme+lm"


@pytest.mark.parametrize(("search", "page"), [
    ("", 10**12), ("", -5), ("", "1; DROP TABLE registration"), ("", None), ("", 1.5), ("", [1, 2]),
    ("' OR 1=1 --", 1), ("%", 1), ("_", 1), ("x" * 100_000, 1), ({"state": "contested"}, 1),
    (["rival-secret"], 1), ("contested", 1), ("rival-secret", 1), ("rival", {"$gt": 0}),
])
def test_forged_register_inputs_return_public_fields_only(site: Site, registered: rf.Registrations,
                                                          search: Any, page: Any) -> None:
    response = register_callback(site.client(), search, page)
    assert response.status_code == 200, response.text
    assert_nothing_confidential(response.text)
    shown = table_text(response.json)
    assert "rival-secret" not in shown and "acme-lm-chat" not in shown  # the search text may be echoed
    assert set(re.findall(r"CTR-\d{4}-\d{6}", response.text)) <= {rf.ACME_NUMBER, rf.XSS_NUMBER}
    assert "Traceback" not in response.text


def test_the_register_callback_under_other_output_ids_still_returns_public_fields(
        site: Site, registered: rf.Registrations) -> None:
    # Output ids other than the register's own: Dash refuses the mismatch (a 500 with no body of
    # ours); whatever it answers, only public fields could be in it.
    renamed = "..register-results.children...register-csv.href...register-json.href.."
    body = {"output": renamed, "changedPropIds": ["register-search.value"],
            "outputs": [{"id": "ack-result", "property": "children"}, {"id": "token-list", "property": "children"},
                        {"id": "portal-result", "property": "children"}],
            "inputs": [{"id": "register-search", "property": "value", "value": "rival"},
                       {"id": "register-page", "property": "value", "value": 1}], "state": []}
    response = site.client().post("/_dash-update-component", json=body, headers={"Origin": ORIGIN})
    assert response.status_code in (200, 500)
    assert_nothing_confidential(response.text)
    assert "rival-secret" not in response.text
    # An output key of another callback with the register's inputs is refused outright.
    forged = callback(site.client(), "..token-secret.children...token-list.children..",
                      [("register-search", "value", ""), ("register-page", "value", 1)])
    assert forged.status_code == 401


def test_a_signed_in_user_sees_the_same_public_register(site: Site, registered: rf.Registrations) -> None:
    for user in ("reg", "acme-user", "rival-user"):
        response = register_callback(site.login(user))
        assert response.status_code == 200
        assert rf.ACME_NUMBER in response.text and "rival-secret" not in response.text
        assert_nothing_confidential(response.text)


def test_api_register_json_has_public_fields_only(site: Site, registered: rf.Registrations) -> None:
    response = site.client().get("/api/v1/register")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert_nothing_confidential(response.text)
    assert_no_confidential_field(response.text)
    document = response.json
    rows = document["registrations"]
    assert {r["registration_number"] for r in rows} == {rf.ACME_NUMBER, rf.XSS_NUMBER}
    assert all(set(r) == set(PUBLIC_FIELDS) for r in rows)
    acme = next(r for r in rows if r["registration_number"] == rf.ACME_NUMBER)
    assert acme["provider"] in ("acme", "Acme AI") and acme["system"] == "acme-lm" and acme["version"] == "2"
    assert acme["regime_id"] == "eu-test-presumption" and acme["threshold"] == 1e25
    assert acme["state"] == "registered" and acme["certificate_status"] == "valid"
    assert acme["certificate_url"] == f"/api/v1/certificates/{rf.ACME_NUMBER}"
    assert acme["registered_at"]
    xss = next(r for r in rows if r["registration_number"] == rf.XSS_NUMBER)
    assert xss["certificate_status"] == "revoked" and xss["system"] == "<img src=x onerror=alert(1)>"
    searched = site.client().get("/api/v1/register?q=ACME").json["registrations"]
    assert [r["registration_number"] for r in searched] == [rf.ACME_NUMBER]
    assert site.client().get("/api/v1/register?q=zzz-nothing").json["registrations"] == []
    paged = site.client().get("/api/v1/register?limit=1&offset=1").json
    assert paged["count"] == 1 and paged["registrations"][0]["registration_number"] in (rf.ACME_NUMBER, rf.XSS_NUMBER)
    assert paged["registrations"][0]["registration_number"] != \
        site.client().get("/api/v1/register?limit=1").json["registrations"][0]["registration_number"]


def test_api_register_csv_has_public_fields_only(site: Site, registered: rf.Registrations) -> None:
    for path in ("/api/v1/register.csv", "/api/v1/register?format=csv"):
        response = site.client().get(path)
        assert response.status_code == 200 and response.mimetype == "text/csv", path
        assert_nothing_confidential(response.text)
        assert_no_confidential_field(response.text)
        rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
        assert list(rows[0]) == list(PUBLIC_FIELDS)
        assert {r["registration_number"] for r in rows} == {rf.ACME_NUMBER, rf.XSS_NUMBER}
        # A provider-written name that a spreadsheet would run is neutralised; this one is plain text.
        assert any(r["system"] == "<img src=x onerror=alert(1)>" for r in rows)


@pytest.mark.parametrize(("query", "where"), [
    ("limit=0", "'limit'"), ("limit=1001", "'limit'"), ("limit=abc", "'limit'"), ("offset=-1", "'offset'"),
    ("format=xml", "'format'"), ("q=" + "x" * 201, "'q'"),
])
def test_api_register_refuses_out_of_range_parameters_with_a_message(site: Site, query: str, where: str) -> None:
    response = site.client().get(f"/api/v1/register?{query}")
    assert response.status_code == 400
    message = response.json["errors"][0]["message"]
    assert where in message and "expected" in message


def test_api_register_is_in_the_openapi_document(site: Site) -> None:
    paths = site.client().get("/api/v1/openapi.json").json["paths"]
    assert paths["/api/v1/register"]["get"]["security"] == []
    assert "/api/v1/register.csv" in paths
    schema = json.dumps(site.client().get("/api/v1/openapi.json").json["components"]["schemas"]
                        ["PublicRegistration"])
    for confidential in ("compute_flop", "contact", "contest", "attachment", "estimate"):
        assert confidential not in schema


def test_a_threshold_is_written_in_its_regimes_unit_on_the_page_and_in_the_exports(site: Site) -> None:
    # A regime measured in training cost, not compute: its threshold must not read as FLOP.
    from tests.dashboard import factories

    with Session(site.engine) as session:
        factories.regime(session, "us-cost-test", 1e8, metric="cost_usd_training")
        seeded = rf.seed_registrations(session, site.world.ids, regime_id="us-cost-test")
        for registration_id in seeded.ids.values():
            row = session.get(Registration, registration_id)
            assert row is not None
            row.threshold = 1e8  # the number crossed, copied from the regime when the registration opened
            session.add(row)
        session.commit()
    shown = table_text(register_callback(site.client(), "acme").json)
    assert "100,000,000 USD" in shown and "FLOP" not in shown
    acme = site.client().get("/api/v1/register?q=acme").json["registrations"][0]
    assert acme["regime_id"] == "us-cost-test" and acme["threshold"] == 1e8
    assert acme["metric"] == "cost_usd_training"
    rows = list(csv.DictReader(io.StringIO(site.client().get("/api/v1/register.csv?q=acme").data.decode("utf-8-sig"))))
    assert list(rows[0])[-1] == "metric" and rows[0]["metric"] == "cost_usd_training"


def test_a_training_compute_threshold_reads_in_flop(site: Site, registered: rf.Registrations) -> None:
    shown = table_text(register_callback(site.client(), "acme").json)
    assert "FLOP" in shown and "USD" not in shown
    assert site.client().get("/api/v1/register?q=acme").json["registrations"][0]["metric"] == \
        "training_flop_cumulative"
