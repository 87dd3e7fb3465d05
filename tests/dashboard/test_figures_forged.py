"""Forged overview and page callbacks: whatever a provider sends, it reads no other provider's
projected figure, nor the projected figure of its own system built on a confidential base."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from tests.dashboard.figure_factories import MASKED_PLANNED_FLOP, PLANNED_FLOP, RIVAL_PLANNED_FLOP, Planted, plant
from tests.web.conftest import Site, callback, site  # noqa: F401  (the seeded server fixture)
from tracker.units import format_flop

OVERVIEW = "..ov-stats.children...ov-scatter.figure...ov-sample-note.children...ov-inference.children.."
PAGES = ".._pages_content.children..._pages_store.data.."


def _planted(server: Site) -> Planted:
    with Session(server.engine) as session:
        found = plant(session, server.world)
        session.commit()
    return found


def _text(response: Any) -> str:
    return json.dumps(response.json, ensure_ascii=False)


def _hidden(figure: float) -> list[str]:
    # Every way a figure could travel: the raw number in the plot data and the written forms.
    return [json.dumps(figure), json.dumps(figure * 0.77), json.dumps(figure * 1.3), format_flop(figure)]


def test_a_provider_cannot_read_another_providers_projected_figure(site: Site) -> None:  # noqa: F811
    _planted(site)
    acme, regulator = site.login("acme-user"), site.login("reg")
    for regime in (None, "eu-test-presumption", "us-test-model"):
        forged = [("ov-regime", "value", regime),
                  ("ov-provider", "value", [site.world.ids["rival"], site.world.ids["acme"]]),
                  ("ov-status", "value", ["above", "likely_above", "unknown"]), ("ov-dates", "start_date", None),
                  ("ov-dates", "end_date", None)]
        response = callback(acme, OVERVIEW, forged)
        assert response.status_code == 200, response.text[:300]
        text = _text(response)
        assert "rival-planned" not in text and "acme-on-rival" not in text
        for figure in (RIVAL_PLANNED_FLOP, MASKED_PLANNED_FLOP):
            assert not [shown for shown in _hidden(figure) if shown in text], regime
        assert "acme-planned" in text and json.dumps(PLANNED_FLOP) in text  # its own projected system is drawn
        # The regulator, sending the same, sees all three projected figures.
        everything = _text(callback(regulator, OVERVIEW, forged))
        assert all(name in everything for name in ("rival-planned", "acme-on-rival", "acme-planned"))


def test_system_pages_withhold_projected_figures_across_providers(site: Site) -> None:  # noqa: F811
    planted = _planted(site)
    acme = site.login("acme-user")
    pages = {sid: _text(callback(acme, PAGES, [("_pages_location", "pathname", f"/systems/{sid}"),
                                              ("_pages_location", "search", "")]))
             for sid in (planted.planned, planted.rival_planned, planted.on_rival)}
    assert format_flop(PLANNED_FLOP) in pages[planted.planned] and "projected" in pages[planted.planned]
    assert "that your account can see" in pages[planted.rival_planned]
    assert not [shown for shown in _hidden(RIVAL_PLANNED_FLOP) if shown in pages[planted.rival_planned]]
    assert "acme-on-rival" in pages[planted.on_rival]
    assert not [shown for shown in _hidden(MASKED_PLANNED_FLOP) if shown in pages[planted.on_rival]]
