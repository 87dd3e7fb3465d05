"""Forged page requests for one alert's details, as a browser would send them (Dash's page callback)
with any id: another provider's alert reads exactly as a missing one. Both backends."""

from __future__ import annotations

import json

from tests.web.conftest import Site, callback, site  # noqa: F401  (the fixture)

PAGES = ".._pages_content.children..._pages_store.data.."


def _page(site: Site, username: str, alert_id: object) -> str:  # noqa: F811
    response = callback(site.login(username), PAGES, [("_pages_location", "pathname", f"/alerts/{alert_id}"),
                                                      ("_pages_location", "search", "")])
    assert response.status_code == 200
    return json.dumps(response.json["response"]["_pages_content"], sort_keys=True, ensure_ascii=False)


def test_another_providers_alert_is_the_same_page_as_a_missing_one(site: Site) -> None:  # noqa: F811
    rival_alert, own_alert = site.world.ids["alert_rival"], site.world.ids["alert_acme"]
    forged = _page(site, "acme-user", rival_alert)
    missing = _page(site, "acme-user", 999_999)
    assert forged == missing
    assert "There is no alert with this id that your account can see." in forged
    assert "rival" not in forged.lower()
    own = _page(site, "acme-user", own_alert)
    assert "alert-facts" in own and "acme-lm" in own
    # the regulator sees the rival's alert, so the id is real
    assert "rival-secret" in _page(site, "reg", rival_alert)
