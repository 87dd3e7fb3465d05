"""What the systems grid, the regimes page and an alert's page read, on both backends: projected and
aged figures, per-regime statuses and names, regimes in words with linked sources, and one alert's
details within the caller's scope (another provider's alert reads exactly as a missing one)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from dashboards.components import regime_text
from tests.dashboard.pages_world import AGED_PERIOD, PROJECTED_FLOP, PagesWorld, seed_pages_world
from tests.store.seed import REGULATOR, TODAY
from tracker.auth.scope import Scope
from tracker.store import queries
from tracker.store.models import AISystem
from tracker.store.queries.alerts import alert_detail, sink_label
from tracker.store.queries.grid import REGIME_COLUMN, status_regimes
from tracker.store.queries.regime_labels import regime_name, source_links

EU_TEST = f"{REGIME_COLUMN}eu-test-presumption"


@pytest.fixture
def pages(engine: Engine) -> PagesWorld:
    with Session(engine) as session:
        seeded = seed_pages_world(session, today=TODAY)
        session.commit()
    return seeded


def provider(pages: PagesWorld, slug: str) -> Scope:
    return Scope(actor=f"{slug}-user", role="provider", provider_id=pages.world.ids[slug])


def _rows(engine: Engine, scope: Scope, filters: dict[str, object] | None = None) -> dict[str, dict[str, object]]:
    with Session(engine) as session:
        rows, _ = queries.systems_page(session, scope, 0, 100, [], filters or {})
    return {str(r["name"]): r for r in rows}


def test_grid_shows_projected_and_latest_period_figures_where_the_summary_has_none(
        engine: Engine, pages: PagesWorld) -> None:
    rows = _rows(engine, REGULATOR)
    planned, aged, big = rows["acme-next"], rows["acme-aged"], rows["acme-lm"]
    assert planned["training_flop"] is None and planned["projected_flop"] == PROJECTED_FLOP
    assert planned["projected_low_flop"] < PROJECTED_FLOP < planned["projected_high_flop"]  # type: ignore[operator]
    assert aged["inference_flop_30d"] is None and aged["inference_latest_flop"] == 4e23
    assert (aged["inference_period_start"], aged["inference_period_end"]) == AGED_PERIOD
    # A system with a training figure has no projected one shown; a current 30-day figure wins.
    assert big["projected_flop"] is None and big["inference_latest_flop"] is None
    assert big["last_run_end"] == date(2024, 7, 1)  # its filed run's end: what "Published" never had


def test_grid_withholds_the_projected_figure_of_a_masked_lineage(engine: Engine, pages: PagesWorld) -> None:
    with Session(engine) as session:
        # acme-next is rebuilt on rival's confidential system: acme may no longer read its projection.
        planned = session.get(AISystem, pages.ids["planned"])
        assert planned is not None
        planned.base_system_id = pages.world.ids["secret"]
        session.commit()
    assert _rows(engine, provider(pages, "acme"))["acme-next"]["projected_flop"] is None
    assert _rows(engine, REGULATOR)["acme-next"]["projected_flop"] == PROJECTED_FLOP


def test_grid_status_per_regime_filters_and_names(engine: Engine, pages: PagesWorld) -> None:
    rows = _rows(engine, REGULATOR)
    assert rows["acme-next"][EU_TEST] == {"status": "above", "projected": True}
    assert rows["acme-mini"][EU_TEST] == {"status": "below", "projected": False}
    assert rows["acme-aged"][EU_TEST] is None  # no flag under the regime
    # the highest status is marked when it comes from planned compute
    assert rows["acme-next"]["status_projected"] is True and rows["acme-lm"]["status_projected"] is False
    above = _rows(engine, REGULATOR, {EU_TEST: {"filterType": "text", "type": "equals", "filter": "above"}})
    assert set(above) == {"acme-lm", "rival-secret", "acme-next"}
    unknown = _rows(engine, REGULATOR, {EU_TEST: {"filterType": "text", "type": "equals", "filter": "unknown"}})
    assert "acme-aged" in unknown and "acme-lm" not in unknown
    # a provider's filter never reaches another provider's systems
    assert set(_rows(engine, provider(pages, "acme"), {EU_TEST: {"type": "equals", "filter": "above"}})) \
        == {"acme-lm", "acme-next"}
    # conditions and tiers name the regime, not its id
    assert "eu-test-presumption" not in " ".join(str(r["flag_notes"]) for r in rows.values())
    with Session(engine) as session:
        shown = {r["id"]: r["name"] for r in status_regimes(session, TODAY)}
    # in force and assessable: the test regimes and the EU presumption; not the qualitative or
    # user-count regimes, nor the BIS proposal (not in force)
    assert shown["eu-aia-gpaisr-presumption"] == "EU AI Act: systemic-risk presumption"
    assert shown["eu-test-presumption"] == "EU · eu-test-presumption act"
    assert not {"cn-cac-algorithm-filing", "cn-tc260-registration", "cn-cac-anthropomorphic-draft",
                "us-bis-nprm-training-run"} & set(shown)


def test_regimes_carry_names_linked_sources_and_why_the_tracker_cannot_assess(
        engine: Engine, pages: PagesWorld) -> None:
    with Session(engine) as session:
        regimes = {r["id"]: r for r in queries.list_regimes_with_counts(session, provider(pages, "acme"))}
    eu = regimes["eu-aia-gpaisr-presumption"]
    assert eu["name"] == "EU AI Act: systemic-risk presumption" and eu["unknown_reason"] is None
    assert eu["source_links"][0] == {"key": "S-EU-51", "url": "https://ai-act-law.eu/article/51/"}
    assert regimes["eu-test-presumption"]["source_links"] == [{"key": "S-TEST-1", "url": None}]
    assert regimes["cn-cac-algorithm-filing"]["unknown_reason"] == \
        "qualitative test with no number; the tracker does not assess it"
    assert regimes["cn-tc260-registration"]["unknown_reason"].startswith("no number published; the regulator sets")
    assert regimes["cn-cac-anthropomorphic-draft"]["unknown_reason"] == \
        "needs users_registered, which the tracker does not hold"


def test_alert_detail_shows_payload_and_deliveries_to_the_regulator(engine: Engine, pages: PagesWorld) -> None:
    with Session(engine) as session:
        detail = alert_detail(session, REGULATOR, pages.ids["change"])
    assert detail is not None
    assert detail["regime"] == {"id": "eu-test-presumption", "metric": "training_flop_cumulative",
                                "comparator": "gt", "name": "EU · eu-test-presumption act"}
    assert detail["payload"]["previous_status"] == "likely_above" and detail["payload"]["threshold"] == 1e25
    deliveries = {d["status"]: d for d in detail["deliveries"]}
    assert set(deliveries) == {"delivered", "failed", "pending"}
    assert deliveries["failed"] == {"sink": "webhook: https://hooks.example.org/tracker", "status": "failed",
                                    "attempts": 8, "last_error": "HTTP 503 from receiver",
                                    "next_attempt_at": None, "delivered_at": None}
    assert deliveries["pending"]["next_attempt_at"] is not None


def test_alert_detail_is_scoped_and_a_forged_id_reads_as_missing(engine: Engine, pages: PagesWorld) -> None:
    acme, rival = provider(pages, "acme"), provider(pages, "rival")
    with Session(engine) as session:
        own = alert_detail(session, acme, pages.ids["change"])
        assert own is not None
        # the regulator's sinks: their kind only, no address, no error text
        assert {(d["sink"], d["last_error"]) for d in own["deliveries"]} == {("webhook", None), ("email", None)}
        assert alert_detail(session, rival, pages.ids["change"]) is None
        assert alert_detail(session, acme, pages.world.ids["alert_rival"]) is None
        assert alert_detail(session, acme, 10**9) is None
        assert alert_detail(session, rival, pages.world.ids["alert_rival"]) is not None


def test_alert_lists_and_deadlines_name_regimes(engine: Engine, pages: PagesWorld) -> None:
    with Session(engine) as session:
        alerts, _ = queries.list_alerts(session, REGULATOR)
        due = queries.deadlines(session, REGULATOR, today=TODAY)
    named = {a["regime_id"]: a["regime_name"] for a in alerts if a["regime_id"]}
    assert named == {"eu-test-presumption": "EU · eu-test-presumption act"}
    assert {r["regime_name"] for r in due["overdue"] + due["upcoming"]} <= {"EU · eu-test-presumption act",
                                                                             "US · us-test-model act"}


def test_sink_labels_drop_credentials_and_hide_addresses_from_providers() -> None:
    assert sink_label("webhook:https://user:pw@hooks.example.org:8443/in?token=x#f", full=True) == \
        "webhook: https://hooks.example.org:8443/in"
    assert sink_label("webhook:https://hooks.example.org/in?token=x", full=False) == "webhook"
    assert sink_label("log:/var/log/tracker-alerts.jsonl", full=True) == "log: /var/log/tracker-alerts.jsonl"


def test_regime_names_and_sources_for_unnamed_regimes() -> None:
    assert regime_name("kr-aibasic-safety") == "Korea AI Basic Act: safety obligations"
    # a regime the labels file does not name: the words every other page derives for it
    assert regime_name("us-ca-custom", "US-CA", "SB 99 (2027); Frontier Act") == "US-CA · SB 99 (2027)"
    assert regime_name("custom-x") == "custom-x"
    assert [(s.key, s.url) for s in source_links(["S-US-HR8094", "S-CT"])] == [
        ("S-US-HR8094", None),
        ("S-CT", "https://www.hunton.com/privacy-and-cybersecurity-law-blog/connecticut-signs-comprehensive-ai-bill-into-law"),
    ]


@pytest.mark.parametrize(("deadline", "calendar", "expected"), [
    ("P14D", "calendar", "within 2 weeks of crossing"),
    ("P10D", "working_days", "within 10 working days of crossing"),
    ("R/P3M", "calendar", "every 3 months"),
    ("PT24H", "calendar", "within 24 hours of crossing"),
    ("P15D", "calendar", "within 15 days of crossing"),
    ("P1Y", "calendar", "within 1 year of crossing"),
    ("P0D", "calendar", "no later than crossing"),
    (None, "calendar", "No fixed deadline"),
])
def test_deadlines_in_words(deadline: str | None, calendar: str, expected: str) -> None:
    assert regime_text.deadline_text(deadline, calendar) == expected


def test_thresholds_and_legal_force_in_words() -> None:
    assert regime_text.threshold_text("users_registered", "gte", 1e6) == "≥ 1,000,000 registered users"
    assert regime_text.threshold_text("training_flop_cumulative", "gt", 1e25) == \
        "> 1.0 × 10²⁵ FLOP of training compute, cumulative"
    assert regime_text.threshold_text("modification_flop_ratio", "gt", 1 / 3).startswith("modification compute > 0.333")
    assert regime_text.threshold_text("qualitative", "none", None) == "No numeric threshold"
    assert regime_text.legal_force("guidance", {"binding": False}) == "Guidance"
    assert regime_text.legal_force("in_force", {"binding": False}) == "Guidance"
    assert regime_text.legal_force("in_force", {}) == "Binding law"
    assert regime_text.legal_force("proposed") == "Not yet law"
    assert regime_text.dated_events({"state": "guidance", "published": "2025-07-18", "binding": False}) == \
        [("Published", "2025-07-18")]
