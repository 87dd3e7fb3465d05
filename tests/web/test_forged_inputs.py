"""Malformed callback inputs: whatever a hand-written request puts in a callback's inputs, the
answer is a page or a 400, never a 500 (issue 15: page ``1e30`` or ``"abc"``, a provider id that is
not a number and a year-0 date each gave 500s).

Each test signs in and posts ``/_dash-update-component`` with values no browser would send.
"""

from __future__ import annotations

from typing import Any

from tests.web.conftest import Site, callback

GRID = "..systems-grid.getRowsResponse...sys-count.children.."
OVERVIEW = "..ov-stats.children...ov-scatter.figure...ov-sample-note.children...ov-inference.children.."
PAGES = ".._pages_content.children..._pages_store.data.."
FILINGS = "filings-table.children"
EXPORT = "sys-download.data"
OPEN_SYSTEM = "sys-nav.href"
ACK = "..alerts-content.children...ack-result.children.."
ACK_ONE = "alert-ack-result.children"
PORTAL = "portal-result.children"
TOKENS = "..token-secret.children...token-list.children.."

NOT_A_NUMBER: list[Any] = ["abc", "1e30", 1e30, -5, 0, "", None, [1], {"a": 1}, True, "NaN", float("inf"), "１２"]


def _ok(response: Any) -> None:
    assert response.status_code in (200, 204, 400), (response.status_code, response.text[:500])
    if response.status_code == 400:
        assert response.is_json and response.json["errors"][0]["message"], response.text[:300]


def test_filings_page_number_that_is_not_a_page(site: Site) -> None:
    client = site.login("reg")
    for page in NOT_A_NUMBER:
        for status in (None, "rejected", 5, ["accepted"], "x" * 5000):
            _ok(callback(client, FILINGS, [("filings-status", "value", status), ("filings-page", "value", page)]))
    typed = callback(client, FILINGS, [("filings-status", "value", None), ("filings-page", "value", "1e30")])
    assert typed.status_code == 200 and "That is not a page number" in typed.text
    forged = callback(client, FILINGS, [("filings-status", "value", "deleted"), ("filings-page", "value", 1)])
    assert forged.status_code == 400
    assert forged.json["errors"][0]["message"] == ("callback input 'filings-status' is not valid; expected one of "
                                                   "accepted, rejected")


GRID_REQUESTS: list[Any] = [
    {"startRow": "abc", "endRow": 100}, {"startRow": 1e30, "endRow": 1e31}, {"startRow": -50, "endRow": -1},
    {"startRow": 0, "endRow": "NaN"}, {"startRow": 0, "endRow": 100, "sortModel": "x"},
    {"startRow": 0, "endRow": 100, "sortModel": [{"colId": 5, "sort": None}]},
    {"startRow": 0, "endRow": 100, "sortModel": [{"colId": "training_central_flop", "sort": "sideways"}]},
    {"startRow": 0, "endRow": 100, "filterModel": "x"},
    {"startRow": 0, "endRow": 100, "filterModel": {"provider_id": {"filterType": "number", "type": "equals",
                                                                   "filter": "abc"}}},
    {"startRow": 0, "endRow": 100, "filterModel": {"training_central_flop": {"filterType": "number",
                                                                             "type": "greaterThan", "filter": [1]}}},
    {"startRow": 0, "endRow": 100, "filterModel": {"name": {"filterType": "text", "type": "contains",
                                                            "filter": {"x": 1}}}},
    {"startRow": 0, "endRow": 100, "filterModel": {"deadline": {"filterType": "date", "type": "equals",
                                                                "dateFrom": "0000-01-01"}}},
    {"startRow": 0, "endRow": 100, "filterModel": {"name": ["x"]}},
    {"startRow": 0, "endRow": 100, "filterModel": {"x" * 300: {"filterType": "text", "filter": "a"}}},
    "not a request", [1, 2], 5,
]


def test_grid_request_that_is_not_a_grid_request(site: Site) -> None:
    client = site.login("acme-user")
    for request_body in GRID_REQUESTS:
        _ok(callback(client, GRID, [("systems-grid", "getRowsRequest", request_body)]))
        _ok(callback(client, EXPORT, [("sys-export-csv", "n_clicks", 1), ("sys-export-xlsx", "n_clicks", None)],
                     state=[("systems-grid", "getRowsRequest", request_body)]))
    huge = callback(client, GRID, [("systems-grid", "getRowsRequest", {"startRow": 1e30, "endRow": 1e31})])
    assert huge.status_code == 400 and "startRow" in huge.json["errors"][0]["message"]


def test_selected_row_that_is_not_a_row(site: Site) -> None:
    client = site.login("reg")
    for selected in ([{"id": "abc"}], [{"id": 1e30}], ["x"], [{"id": None}], "x", [{}], [{"id": [1]}]):
        _ok(callback(client, OPEN_SYSTEM, [("systems-grid", "selectedRows", selected)]))


OVERVIEW_INPUTS: list[tuple[Any, Any, Any, Any, Any]] = [
    (None, ["abc"], None, None, None), (None, "abc", None, None, None), (None, [1e30], None, None, None),
    (None, [None, {"a": 1}], None, None, None), (5, None, None, None, None), (["x"], None, None, None, None),
    (None, None, "above", None, None), (None, None, [5, None], None, None),
    (None, None, None, "0000-01-01", None), (None, None, None, "0001-01-01", "9999-12-31"),
    (None, None, None, "2026-02-30", "abc"), (None, None, None, 5, ["x"]),
    (None, None, None, "2026-01-01T00:00:00", "2025-01-01"),
]


def test_overview_filters_that_are_not_filters(site: Site) -> None:
    for user in ("reg", "acme-user"):
        client = site.login(user)
        for regime, provider, status, start, end in OVERVIEW_INPUTS:
            _ok(callback(client, OVERVIEW, [
                ("ov-regime", "value", regime), ("ov-provider", "value", provider), ("ov-status", "value", status),
                ("ov-dates", "start_date", start), ("ov-dates", "end_date", end)]))
        year_zero = callback(client, OVERVIEW, [
            ("ov-regime", "value", None), ("ov-provider", "value", None), ("ov-status", "value", None),
            ("ov-dates", "start_date", "0000-01-01"), ("ov-dates", "end_date", None)])
        assert year_zero.status_code == 400
        assert "expected a date from 1950-01-01 to 2200-12-31" in year_zero.json["errors"][0]["message"]


PATHS = ["/systems/abc", "/systems/1e30", "/systems/99999999999999999999999", "/systems/-1", "/systems/%00",
         "/filings/%00", "/filings/" + "x" * 5000, "/alerts/abc", "/alerts/1e30", "/alerts/99999999999999999999",
         "/filings?page=abc", "/systems/1/../../2"]


def test_page_paths_that_name_nothing(site: Site) -> None:
    for user in ("reg", "acme-user"):
        client = site.login(user)
        for path in PATHS:
            response = callback(client, PAGES, [("_pages_location", "pathname", path),
                                                ("_pages_location", "search", "?page=1e30")])
            _ok(response)
            assert response.status_code == 200, path  # a page saying there is nothing to see


def test_acknowledging_an_alert_id_that_is_not_an_id(site: Site) -> None:
    client = site.login("reg")
    for alert in ("abc", 1e30, None, [1], "1; DROP TABLE alert"):
        button = {"type": "ack", "alert": alert}
        _ok(callback(client, ACK, [[(button, "n_clicks", 1)]], triggered=(button, "n_clicks", 1)))
        one = {"type": "ack-one", "alert": alert}
        _ok(callback(client, ACK_ONE, [[(one, "n_clicks", 1)]], triggered=(one, "n_clicks", 1)))


PORTAL_FIELDS: list[tuple[Any, Any, Any]] = [
    (5, "a.csv", "training_runs"), (["data:x"], "a.csv", None), ("data:text/csv;base64,YQ==", 5, None),
    ("data:text/csv;base64,YQ==", ["a"], None), ("data:text/csv;base64,YQ==", "a.csv", {"k": 1}),
    ("data:text/csv;base64,YQ==", "a.csv", 7), ("data:text/csv;base64,YQ==", "a\u202e.csv", "training\u200b"),
]


def test_portal_upload_fields_that_are_not_a_file(site: Site) -> None:
    client = site.login("acme-user")
    for contents, filename, kind in PORTAL_FIELDS:
        _ok(callback(client, PORTAL, [("portal-upload", "contents", contents)],
                     state=[("portal-upload", "filename", filename), ("portal-kind", "value", kind)]))


def test_token_names_that_are_not_names(site: Site) -> None:
    client = site.login("acme-user")
    for name in (5, ["x"], {"a": 1}, "x" * 5000):
        _ok(callback(client, TOKENS, [("token-create", "n_clicks", 1), [({"type": "revoke-token", "token": 1},
                                                                         "n_clicks", None)]],
                     state=[("token-name", "value", name)], triggered=("token-create", "n_clicks", 1)))
    bidi = callback(client, TOKENS, [("token-create", "n_clicks", 1), [({"type": "revoke-token", "token": 1},
                                                                        "n_clicks", None)]],
                    state=[("token-name", "value", "ci\u202eupload")], triggered=("token-create", "n_clicks", 1))
    assert bidi.status_code == 200
    assert "The token name has U+202E RIGHT-TO-LEFT OVERRIDE at character 3" in bidi.text
    revoke = {"type": "revoke-token", "token": "abc"}
    _ok(callback(client, TOKENS, [("token-create", "n_clicks", None), [(revoke, "n_clicks", 1)]],
                 state=[("token-name", "value", None)], triggered=(revoke, "n_clicks", 1)))


def test_an_alert_page_counts_the_identical_rejections_it_stands_for(site: Site) -> None:
    from sqlmodel import Session, select

    from tracker.filing.service import file_disclosure
    from tracker.store.models import Alert, RejectionRepeat

    bad = b"system,run_id,reported_flop\nacme-lm,r1,-5\n"
    outcomes = [file_disclosure(site.engine, content=bad, filename="bad.csv", kind="training_runs",
                                provider_slug="acme", filed_by="api:x", channel="api") for _ in range(3)]
    with Session(site.engine) as session:
        series = session.exec(select(RejectionRepeat)).one()
        alert = session.get(Alert, series.alert_id)
        assert alert is not None and series.count == 3
    for user in ("reg", "acme-user"):
        page = callback(site.login(user), PAGES, [("_pages_location", "pathname", f"/alerts/{alert.id}"),
                                                  ("_pages_location", "search", "")])
        assert page.status_code == 200
        assert "3 times" in page.text and outcomes[-1].accession in page.text  # type: ignore[operator]
