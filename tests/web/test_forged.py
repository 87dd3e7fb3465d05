"""Forged callbacks and API calls: a provider gets nothing of another provider's, whatever it sends.

Each test signs in as provider acme and posts /_dash-update-component with rival's identifiers,
exactly as a hand-written request could; the scope comes from the session, so nothing leaks.
"""

from __future__ import annotations

import base64
import json

from sqlmodel import Session, select

from tests.web.conftest import Site, callback
from tracker.store.models import Alert, ApiToken, Filing

GRID = "..systems-grid.getRowsResponse...sys-count.children.."
OVERVIEW = "..ov-stats.children...ov-scatter.figure...ov-sample-note.children...ov-inference.children.."
PAGES = ".._pages_content.children..._pages_store.data.."
ACK = "..alerts-content.children...ack-result.children.."
TOKENS = "..token-secret.children...token-list.children.."


def _grid(client: object, filter_model: dict[str, object]) -> dict[str, object]:
    response = callback(client, GRID, [("systems-grid", "getRowsRequest",  # type: ignore[arg-type]
                                        {"startRow": 0, "endRow": 100, "sortModel": [],
                                         "filterModel": filter_model})])
    assert response.status_code == 200, response.text
    return response.json["response"]["systems-grid"]["getRowsResponse"]  # type: ignore[no-any-return]


def test_grid_returns_only_own_systems_whatever_the_filter(site: Site) -> None:
    client = site.login("acme-user")
    everything = _grid(client, {})
    assert {r["provider"] for r in everything["rowData"]} == {"acme"} and everything["rowCount"] == 3
    forged = _grid(client, {"provider": {"filterType": "text", "type": "equals", "filter": "rival"},
                            "provider_id": {"filterType": "number", "type": "equals", "filter": 2}})
    assert forged == {"rowData": [], "rowCount": 0}
    assert _grid(site.login("reg"), {})["rowCount"] == 5


def test_overview_with_another_providers_id_shows_nothing_of_theirs(site: Site) -> None:
    client = site.login("acme-user")
    rival = site.world.ids["rival"]
    response = callback(client, OVERVIEW, [("ov-regime", "value", None), ("ov-provider", "value", [rival]),
                                           ("ov-status", "value", None), ("ov-dates", "start_date", None),
                                           ("ov-dates", "end_date", None)])
    assert response.status_code == 200
    text = response.text
    assert "rival-secret" not in text and "rival" not in json.dumps(response.json["response"]["ov-scatter"])
    assert "No system with a training estimate matches" in text


def test_system_and_filing_pages_of_another_provider_are_not_visible(site: Site) -> None:
    client = site.login("acme-user")
    for path in (f"/systems/{site.world.ids['secret']}", f"/filings/{site.world.accessions['rival']}",
                 f"/alerts/{site.world.ids['alert_rival']}"):
        response = callback(client, PAGES, [("_pages_location", "pathname", path),
                                            ("_pages_location", "search", "")])
        assert response.status_code == 200, path
        assert "rival" not in response.text.lower(), path
        assert "that your account can see" in response.text
    own = callback(client, PAGES, [("_pages_location", "pathname", f"/systems/{site.world.ids['big']}"),
                                   ("_pages_location", "search", "")])
    assert "acme-lm" in own.text


def test_forged_acknowledgement_changes_nothing(site: Site) -> None:
    rival_alert = site.world.ids["alert_rival"]
    button = [({"type": "ack", "alert": rival_alert}, "n_clicks", 1)]
    provider = callback(site.login("acme-user"), ACK, [button],
                        triggered=({"type": "ack", "alert": rival_alert}, "n_clicks", 1))
    assert "Only regulator" in provider.text and "rival" not in provider.text.lower()
    with Session(site.engine) as session:
        assert session.get(Alert, rival_alert).acknowledged_at is None  # type: ignore[union-attr]
    regulator = callback(site.login("reg"), ACK, [button],
                         triggered=({"type": "ack", "alert": rival_alert}, "n_clicks", 1))
    assert f"Alert {rival_alert} acknowledged by reg" in regulator.text
    with Session(site.engine) as session:
        assert session.get(Alert, rival_alert).acknowledged_by == "reg"  # type: ignore[union-attr]


def test_forged_token_revocation_and_api_lookup(site: Site) -> None:
    from tracker.auth.tokens import create_token

    with Session(site.engine) as session:
        rival_plain, rival_token = create_token(session, user_id=None, provider_id=site.world.ids["rival"],
                                                name="rival-ci")
        acme_plain, _ = create_token(session, user_id=None, provider_id=site.world.ids["acme"], name="acme-ci")
        session.commit()
        rival_token_id = rival_token.id
    revoke = [({"type": "revoke-token", "token": rival_token_id}, "n_clicks", 1)]
    response = callback(site.login("acme-user"), TOKENS, [("token-create", "n_clicks", None), revoke],
                        [("token-name", "value", None)],
                        triggered=({"type": "revoke-token", "token": rival_token_id}, "n_clicks", 1))
    assert "no token with this id that your account can revoke" in response.text
    with Session(site.engine) as session:
        assert session.get(ApiToken, rival_token_id).revoked_at is None  # type: ignore[union-attr]
    api = site.client()
    auth = {"Authorization": f"Bearer {acme_plain}"}
    assert api.get(f"/api/v1/disclosures/{site.world.accessions['rival']}", headers=auth).status_code in (403, 404)
    own = api.get(f"/api/v1/disclosures/{site.world.accessions['good']}", headers=auth)
    assert own.status_code == 200
    assert rival_plain not in response.text


def test_portal_files_for_the_signed_in_provider_only(site: Site) -> None:
    body = base64.b64encode(b"system,run_id,reported_flop\nacme-new,run-9,2.5e25\n").decode()
    response = callback(site.login("acme-user"), "portal-result.children",
                        [("portal-upload", "contents", f"data:text/csv;base64,{body}")],
                        [("portal-upload", "filename", "runs.csv"), ("portal-kind", "value", "training_runs")])
    assert response.status_code == 200 and "Receipt" in response.text, response.text
    with Session(site.engine) as session:
        newest = session.exec(select(Filing).order_by(Filing.id.desc())).first()  # type: ignore[union-attr]
    assert newest is not None and newest.provider_id == site.world.ids["acme"] and newest.channel == "portal"
    regulator = callback(site.login("reg"), "portal-result.children",
                         [("portal-upload", "contents", f"data:text/csv;base64,{body}")],
                         [("portal-upload", "filename", "runs.csv"), ("portal-kind", "value", "training_runs")])
    assert "for provider accounts" in regulator.text
