"""What the overview and system page read: projected figures, the latest usage period, the regime
each point's colour comes from, and regime names; scoped and masked, on both backends."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.dashboard import factories
from tests.dashboard.figure_factories import (
    AGED_PERIOD,
    MASKED_PLANNED_FLOP,
    PLANNED_FLOP,
    RATIO,
    RIVAL_PLANNED_FLOP,
    Planted,
)
from tests.store.conftest import acme_scope
from tests.store.seed import REGULATOR
from tracker.auth.scope import Scope
from tracker.store import queries
from tracker.store.queries.overview import months_between
from tracker.store.queries.regime_labels import regime_name, regime_names
from tracker.store.queries.system import latest_inference_periods, projected_training


def test_a_system_with_only_planned_compute_is_plotted_at_its_projected_figure(
        engine: Engine, world: factories.World, planted: Planted) -> None:
    with Session(engine) as session:
        everything = queries.compute_scatter_points(session, REGULATOR)
        own = queries.compute_scatter_points(session, acme_scope(world))
        only_below = queries.compute_scatter_points(session, REGULATOR, queries.ScatterFilters(statuses=("below",)))
    by_id = {p["id"]: p for p in everything["points"]}
    planned = by_id[planted.planned]
    assert planned["estimate"] == "projected" and planned["central"] == PLANNED_FLOP
    assert planned["low"] == pytest.approx(PLANNED_FLOP * 0.77) and planned["high"] == pytest.approx(PLANNED_FLOP * 1.3)
    assert planned["methods"] == ["hardware"]  # read from its runs: the stored row names none
    assert planned["status"] == "above" and planned["flag_projected"]
    assert by_id[planted.rival_planned]["central"] == RIVAL_PLANNED_FLOP
    assert by_id[planted.on_rival]["central"] == MASKED_PLANNED_FLOP  # the regulator sees every figure
    assert everything["projected_shown"] == 3 and everything["matching"] == 5 + 3
    # acme: its own projected system; not rival's, nor its fine-tune of rival's confidential system.
    own_ids = {p["id"] for p in own["points"]}
    assert planted.planned in own_ids
    assert planted.rival_planned not in own_ids and planted.on_rival not in own_ids
    assert all(p["central"] not in (RIVAL_PLANNED_FLOP, MASKED_PLANNED_FLOP) for p in own["points"])
    assert planted.planned not in {p["id"] for p in only_below["points"]}  # filters apply to them too


def test_each_point_names_the_regime_its_colour_comes_from(
        engine: Engine, world: factories.World, planted: Planted) -> None:
    with Session(engine) as session:
        everything = {p["id"]: p for p in queries.compute_scatter_points(session, REGULATOR)["points"]}
        under_us = {p["id"]: p for p in queries.compute_scatter_points(
            session, REGULATOR, queries.ScatterFilters(regime_id="us-test-model"))["points"]}
    # acme-lm: above under the EU regime, below under the US one: over all regimes, the most severe.
    big = everything[world.ids["big"]]
    assert (big["status"], big["regime_id"], big["flag_status"]) == ("above", "eu-test-presumption", "above")
    assert big["regime_name"] == "EU · eu-test-presumption act" and big["threshold"] == 1e25
    # Under the US regime: its own flag, and no flag (unknown) where it did not evaluate the system.
    assert (under_us[world.ids["big"]]["status"], under_us[world.ids["big"]]["flag_status"]) == ("below", "below")
    tuned = under_us[world.ids["tuned"]]
    assert tuned["status"] == "unknown" and tuned["flag_status"] is None
    assert tuned["regime_id"] == "us-test-model" and tuned["regime_name"] == "US · us-test-model act"
    assert under_us[planted.planned]["status"] == "above" and under_us[planted.planned]["flag_projected"]


def test_inference_falls_back_to_the_latest_period_and_says_how_old(
        engine: Engine, world: factories.World, planted: Planted) -> None:
    with Session(engine) as session:
        series = queries.inference_series(session, REGULATOR, today=date(2026, 12, 4))
        fresh = queries.inference_series(session, REGULATOR, today=date(2026, 11, 15))
        own = queries.inference_series(session, Scope(actor="r", role="provider", provider_id=world.ids["rival"]),
                                       today=date(2026, 12, 4))
        latest = latest_inference_periods(session, REGULATOR, [world.ids["big"], planted.aged, planted.planned])
        rival_view = latest_inference_periods(session, Scope(actor="r", role="provider",
                                                             provider_id=world.ids["rival"]), None)
    names = [s["name"] for s in series["series"]]
    # Ranked by the 30-day figure first; acme-mini has only an aged period, and still appears.
    assert names == ["rival-secret", "acme-lm", "acme-mini"]
    mini = next(s for s in series["series"] if s["name"] == "acme-mini")
    assert mini["points"] == [{"at": AGED_PERIOD[1], "central": 4.4e23, "low": pytest.approx(4.4e23 / 1.5),
                               "high": pytest.approx(4.4e23 * 1.5)}]
    assert series["latest"] == date(2026, 10, 31) and series["latest_age_months"] == 2 and not series["recent"]
    assert fresh["recent"]
    assert [s["name"] for s in own["series"]] == ["rival-secret"]
    big = latest[world.ids["big"]]
    assert (big["period_end"], big["central"]) == (date(2026, 10, 31), 1.1e24)
    assert latest[planted.aged]["period_start"] == AGED_PERIOD[0]
    assert planted.planned not in latest
    assert set(rival_view) == {world.ids["secret"]}


def test_projected_training_is_withheld_through_a_confidential_base(
        engine: Engine, world: factories.World, planted: Planted) -> None:
    ids = [planted.planned, planted.rival_planned, planted.on_rival]
    with Session(engine) as session:
        everything = projected_training(session, REGULATOR, ids)
        own = projected_training(session, acme_scope(world), ids)
    assert set(everything) == set(ids)
    assert everything[planted.on_rival]["central"] == MASKED_PLANNED_FLOP
    assert set(own) == {planted.planned}
    assert own[planted.planned] == {"central": PLANNED_FLOP, "low": pytest.approx(PLANNED_FLOP * 0.77),
                                    "high": pytest.approx(PLANNED_FLOP * 1.3), "confidence": None,
                                    "methods": ["hardware"]}


def test_the_system_page_reads_units_names_and_the_projected_methods(
        engine: Engine, world: factories.World, planted: Planted) -> None:
    with Session(engine) as session:
        tuned = queries.system_detail(session, REGULATOR, world.ids["tuned"])
        planned = queries.system_detail(session, acme_scope(world), planted.planned)
        masked = queries.system_detail(session, acme_scope(world), planted.on_rival)
        big = queries.system_detail(session, REGULATOR, world.ids["big"])
    assert tuned is not None and planned is not None and masked is not None and big is not None
    ratio = next(e for e in tuned["flag_history"] if e["regime_id"] == "eu-test-modifier")
    assert (ratio["metric"], ratio["value_central"]) == ("modification_flop_ratio", RATIO)
    assert ratio["regime_name"] == "EU · eu-test-modifier act"
    assert {f["regime_name"] for f in tuned["flags"]} == {"EU · eu-test-presumption act"}
    projected = next(e for e in planned["estimates"] if e["kind"] == "projected")
    assert projected["central"] == PLANNED_FLOP and projected["methods"] == ["hardware"]
    assert [e["kind"] for e in masked["estimates"]] == []  # its projected figure carries rival's compute
    assert big["latest_inference"]["period_end"] == date(2026, 10, 31)


def test_regimes_are_named_by_jurisdiction_and_instrument(engine: Engine, world: factories.World) -> None:
    with Session(engine) as session:
        # Two rules of one guideline section: the same instrument, told apart by their ids.
        for rid in ("eu-test-rule-a", "eu-test-rule-b"):
            factories.regime(session, rid, 1e24).instrument = "Guidelines, §3.2"
        session.commit()
        names = regime_names(session)
        lines = queries.threshold_lines(session, REGULATOR)
        counts = queries.overview_counts(session, REGULATOR)
    assert names["eu-test-presumption"] == "EU · eu-test-presumption act"
    assert (names["eu-test-rule-a"], names["eu-test-rule-b"]) == ("EU · Guidelines, §3.2 (eu-test-rule-a)",
                                                                  "EU · Guidelines, §3.2 (eu-test-rule-b)")
    assert {line["id"]: line["name"] for line in lines}["us-test-model"] == "US · us-test-model act"
    assert counts["regime_names"]["eu-test-presumption"] == "EU · eu-test-presumption act"
    long = regime_name("x", "KR", "Framework Act on the Development of AI and Establishment of Trust (AI Basic Act) "
                                  "Art. 32; Enforcement Decree")
    assert long.startswith("KR · Framework Act on the Development") and long.endswith("…") and len(long) <= 72
    assert regime_name("bare-id", None, "") == "bare-id"


def test_months_between_counts_calendar_months() -> None:
    assert months_between(date(2026, 10, 31), date(2026, 12, 4)) == 2
    assert months_between(date(2026, 12, 1), date(2026, 12, 31)) == 0
    assert months_between(date(2027, 1, 1), date(2026, 12, 31)) == 0  # never negative
