"""Forged requests to the regime-threshold callback: only an administrator sets a threshold,
whatever a regulator, a provider or an anonymous caller sends. Both backends."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlmodel import Session, select

from tests.web.conftest import Site, callback, site  # noqa: F401  (the fixture)
from tracker.store.models import AuditEvent, RegimeSetting

SET = "..rs-result.children...rs-history.children.."
PAGES = ".._pages_content.children..._pages_store.data.."
TC260 = "cn-tc260-registration"


def _set(client: Any, regime: Any = TC260, threshold: Any = "1e20", reason: Any = "forged") -> Any:
    return callback(client, SET, [("rs-submit", "n_clicks", 1)],
                    [("rs-regime", "value", regime), ("rs-metric", "value", "training_flop_cumulative"),
                     ("rs-threshold", "value", threshold), ("rs-reason", "value", reason)])


def _stored(site: Site) -> list[RegimeSetting]:  # noqa: F811
    with Session(site.engine) as session:
        return list(session.exec(select(RegimeSetting)).all())


@pytest.mark.parametrize("username", ["reg", "acme-user", "rival-user"])
def test_non_administrators_cannot_set_a_threshold(site: Site, username: str) -> None:  # noqa: F811
    response = _set(site.login(username))
    assert response.status_code == 200
    assert "This page is for administrator accounts." in response.text
    assert _stored(site) == []
    page = callback(site.login(username), PAGES, [("_pages_location", "pathname", "/regime-thresholds"),
                                                  ("_pages_location", "search", "")])
    assert "administrator accounts" in page.text and "rs-submit" not in page.text


def test_an_anonymous_caller_cannot_set_a_threshold(site: Site) -> None:  # noqa: F811
    response = _set(site.client())
    assert response.status_code in (302, 401, 403)
    assert _stored(site) == []


def test_an_administrator_sets_one_and_bad_values_are_refused(site: Site) -> None:  # noqa: F811
    admin = site.login("admin")
    for regime, threshold, reason, message in (
        ("eu-aia-gpaisr-presumption", "1e20", "r", "has a published threshold"),
        (TC260, "lots", "r", "threshold: 'lots' is not a positive number"),
        (TC260, "1e25", "", "reason: a threshold is set with a written reason"),
        ({"$ne": 1}, ["1e25"], {"x": 1}, "regime: no regime ''"),  # non-text JSON is read as empty text
    ):
        refused = _set(admin, regime, threshold, reason)
        assert refused.status_code == 200 and message in refused.text, refused.text
    assert _stored(site) == []
    done = _set(admin, TC260, "10^25", "registration of frontier systems")
    shown = json.dumps(done.json["response"]["rs-result"], ensure_ascii=False)
    assert ("China TC260 framework: registration: training compute, cumulative over the lineage (FLOP) "
            "≥ 1.0 × 10²⁵ FLOP, set by admin") in shown
    [row] = _stored(site)
    assert (row.regime_id, row.threshold, row.set_by, row.reason) == (TC260, 1e25, "admin",
                                                                     "registration of frontier systems")
    with Session(site.engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "regime.threshold_set")).one()
    assert event.actor == "admin"
