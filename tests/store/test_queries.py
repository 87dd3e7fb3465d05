"""The query layer: scope is applied inside the SQL, grid models are whitelisted, both backends."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.dashboard import factories
from tests.store.seed import REGULATOR, TODAY
from tracker.auth.scope import Scope
from tracker.store import queries


def acme(w: factories.World) -> Scope:
    return Scope(actor="acme-user", role="provider", provider_id=w.ids["acme"])


def test_overview_counts_per_scope(engine: Engine, world: factories.World) -> None:
    with Session(engine) as session:
        everything = queries.overview_counts(session, REGULATOR, today=TODAY)
        own = queries.overview_counts(session, acme(world), today=TODAY)
    assert everything["systems"] == 5
    eu = {r["regime_id"]: r for r in everything["per_regime"]}["eu-test-presumption"]
    assert (eu["above"], eu["likely_above"]) == (2, 1)
    assert everything["projected_crossings"] == 1
    assert everything["overdue_notifications"] == 1
    assert everything["open_alerts"] == 2
    assert own["systems"] == 3
    assert own["projected_crossings"] == 0
    assert own["open_alerts"] == 1
    assert {r["regime_id"]: r for r in own["per_regime"]}["eu-test-presumption"]["above"] == 1


def test_scatter_points_keep_crossings_and_cap_the_rest(engine: Engine, world: factories.World) -> None:
    with Session(engine) as session:
        result = queries.compute_scatter_points(session, REGULATOR, top_n=1)
        filtered = queries.compute_scatter_points(
            session, REGULATOR, queries.ScatterFilters(statuses=("below",), date_from=date(2023, 1, 1),
                                                       date_to=date(2023, 12, 31)))
    names = {p["name"] for p in result["points"]}
    # everything at or above likely_above is kept, plus the top 1 by compute
    assert names == {"acme-lm", "acme-lm-chat", "rival-secret"}
    assert result["matching"] == 5 and result["sampled"]
    big = next(p for p in result["points"] if p["name"] == "acme-lm")
    assert big["status"] == "above" and big["low"] < big["central"] < big["high"]
    assert big["date"] == date(2024, 7, 23)
    assert [p["name"] for p in filtered["points"]] == ["acme-mini"]


def test_systems_page_sorts_filters_and_pages_in_sql(engine: Engine, world: factories.World) -> None:
    with Session(engine) as session:
        rows, total = queries.systems_page(session, REGULATOR, 0, 2,
                                           [{"colId": "training_flop", "sort": "desc"}], {})
        assert total == 5 and [r["name"] for r in rows] == ["rival-secret", "acme-lm-chat"]
        rows, total = queries.systems_page(session, REGULATOR, 2, 4,
                                           [{"colId": "training_flop", "sort": "desc"}], {})
        assert [r["name"] for r in rows] == ["acme-lm", "<img src=x onerror=alert(1)>"]
        rows, total = queries.systems_page(
            session, REGULATOR, 0, 100, [],
            {"name": {"filterType": "text", "type": "contains", "filter": "ACME-LM"},
             "training_flop": {"filterType": "number", "type": "greaterThan", "filter": 3.85e25}})
        assert total == 1 and rows[0]["name"] == "acme-lm-chat"
        rows, total = queries.systems_page(
            session, REGULATOR, 0, 100, [{"colId": "name", "sort": "asc"}],
            {"status": {"filterType": "text", "type": "equals", "filter": "above"}})
        assert [r["name"] for r in rows] == ["acme-lm", "rival-secret"]
        rows, _ = queries.systems_page(
            session, REGULATOR, 0, 100, [],
            {"publication_date": {"filterType": "date", "type": "inRange", "dateFrom": "2024-01-01 00:00:00",
                                  "dateTo": "2024-12-31 00:00:00"},
             "provider": {"filterType": "text", "operator": "OR", "conditions": [
                 {"type": "equals", "filter": "acme"}, {"type": "equals", "filter": "nobody"}]}})
        assert sorted(r["name"] for r in rows) == ["acme-lm", "acme-lm-chat"]


def test_grid_ignores_unknown_columns_and_treats_values_as_data(engine: Engine, world: factories.World) -> None:
    with Session(engine) as session:
        rows, total = queries.systems_page(
            session, REGULATOR, 0, 100, [{"colId": "id; DROP TABLE ai_system", "sort": "asc"}],
            {"provider_id": {"filterType": "number", "type": "equals", "filter": 1},
             "name": {"filterType": "text", "type": "contains", "filter": "%' OR 1=1 --"}})
        assert total == 0 and rows == []
        # '%' and '_' are literal characters, not wildcards
        _, wildcard = queries.systems_page(session, REGULATOR, 0, 10, [],
                                           {"name": {"filterType": "text", "type": "contains", "filter": "%"}})
        assert wildcard == 0
        assert queries.systems_page(session, REGULATOR, 0, 10)[1] == 5


def test_provider_scope_is_applied_inside_every_query(engine: Engine, world: factories.World) -> None:
    scope = acme(world)
    with Session(engine) as session:
        rows, total = queries.systems_page(
            session, scope, 0, 100, [], {"provider": {"filterType": "text", "type": "equals", "filter": "rival"}})
        assert (rows, total) == ([], 0)
        assert queries.systems_page(session, scope, 0, 100)[1] == 3
        assert queries.system_detail(session, scope, world.ids["secret"]) is None
        assert queries.filing_detail(session, scope, world.accessions["rival"]) is None
        assert not queries.alert_in_scope(session, scope, world.ids["alert_rival"])
        assert queries.alert_in_scope(session, scope, world.ids["alert_acme"])
        filings, n = queries.list_filings(session, scope)
        assert n == 2 and {f["provider"] for f in filings} == {"acme"}
        alerts, _ = queries.list_alerts(session, scope)
        assert {a["provider"] for a in alerts} == {"acme"}
        assert {f["provider"] for f in queries.list_flags(session, scope)} == {"acme"}
        assert [p["slug"] for p in queries.list_providers(session, scope)] == ["acme"]
        points = queries.compute_scatter_points(session, scope, queries.ScatterFilters(
            provider_ids=(world.ids["rival"],)))
        assert points["points"] == [] and points["matching"] == 0
        regimes = {r["id"]: r for r in queries.list_regimes_with_counts(session, scope)}
        assert regimes["eu-test-presumption"]["catches"] == 2
        assert regimes["us-test-model"]["projected"] == 0
        dl = queries.deadlines(session, scope, today=TODAY)
        assert {r["system"] for r in dl["overdue"] + dl["upcoming"]} <= {"acme-lm", "acme-lm-chat"}
        assert {r["provider"] for r in queries.systems_export(session, scope)} == {"acme"}


def test_system_detail_has_lineage_estimates_inputs_and_history(engine: Engine, world: factories.World) -> None:
    with Session(engine) as session:
        detail = queries.system_detail(session, REGULATOR, world.ids["tuned"])
        big = queries.system_detail(session, REGULATOR, world.ids["big"])
    assert detail is not None and big is not None
    assert [a["name"] for a in detail["lineage"]["ancestors"]] == ["acme-lm"]
    assert detail["lineage"]["ancestors"][0]["training_flop"] == pytest.approx(3.8e25)
    assert [d["name"] for d in big["lineage"]["derived"]] == ["acme-lm-chat"]
    training = next(e for e in big["estimates"] if e["kind"] == "training")
    assert [m["method"] for m in training["per_method"]] == ["architecture", "hardware", "reported"]
    assert big["runs"][0]["accession"] == world.accessions["good"]
    assert [f["regime_id"] for f in big["flags"]] == ["eu-test-presumption", "us-test-model"]
    assert {e["new_status"] for e in big["flag_history"]} == {"above", "below"}
    assert [a["id"] for a in big["alerts"]] == [world.ids["alert_acme"]]


def test_deadlines_split_overdue_and_upcoming(engine: Engine, world: factories.World) -> None:
    with Session(engine) as session:
        dl = queries.deadlines(session, REGULATOR, today=TODAY, horizon_days=30)
    assert [r["system"] for r in dl["overdue"]] == ["acme-lm"]
    assert [r["system"] for r in dl["upcoming"]] == ["rival-secret", "acme-lm-chat"]


def test_filing_detail_reports_errors(engine: Engine, world: factories.World) -> None:
    with Session(engine) as session:
        bad = queries.filing_detail(session, REGULATOR, world.accessions["bad"])
    assert bad is not None and bad["status"] == "rejected"
    assert bad["errors"] == [{"row": 2, "column": "training_hours", "message": "must be > 0"}]
    assert "stored_path" not in bad


def test_systems_page_scales_to_many_rows(engine: Engine) -> None:
    with Session(engine) as session:
        owner = factories.provider(session, "bulk")
        factories.bulk_systems(session, owner, 5000)
        session.commit()
        rows, total = queries.systems_page(session, REGULATOR, 4900, 5100,
                                           [{"colId": "name", "sort": "desc"}], {})
    assert total == 5000 and len(rows) == 100 and rows[-1]["name"] == "bulk-000000"


def test_per_method_reads_the_pipelines_run_inputs() -> None:
    inputs = {"runs": [{"run_key": "a", "hardware_flop_central": 2e25, "architecture_flop_central": 1e25,
                        "reported_flop_central": None},
                       {"run_key": "b", "hardware_flop_central": 1e24, "architecture_flop_central": None}]}
    methods = {m["method"]: m for m in queries.per_method(inputs)}
    assert set(methods) == {"architecture", "hardware"}
    assert methods["hardware"]["central"] == pytest.approx(2.1e25) and methods["hardware"]["runs"] == 2
    assert methods["architecture"]["runs"] == 1 and methods["architecture"]["of_runs"] == 2
    assert queries.per_method(None) == [] and queries.per_method({"runs": "nonsense"}) == []


def test_per_method_sums_intervals_when_every_run_has_one() -> None:
    inputs = {"runs": [
        {"hardware_flop_central": 2e25, "hardware_flop_low": 1e25, "hardware_flop_high": 4e25},
        {"hardware_flop_central": 1e24, "hardware_flop_low": 5e23, "hardware_flop_high": 2e24},
        {"architecture_flop_central": 3e24, "architecture_flop_low": None, "architecture_flop_high": 4e24},
    ]}
    methods = {m["method"]: m for m in queries.per_method(inputs)}
    assert methods["hardware"]["low"] == pytest.approx(1.05e25)
    assert methods["hardware"]["high"] == pytest.approx(4.2e25)
    assert methods["architecture"]["low"] is None  # a run without a bound leaves the sum unbounded


def test_inference_series_plots_each_filed_period_within_scope(engine: Engine, world: factories.World) -> None:
    with Session(engine) as session:
        everything = queries.inference_series(session, REGULATOR)
        own = queries.inference_series(session, acme(world))
    by_name = {s["name"]: s for s in everything["series"]}
    assert len(by_name) == 2
    big = next(s for s in everything["series"] if len(s["points"]) == 2)
    assert [p["at"] for p in big["points"]] == [date(2026, 9, 30), date(2026, 10, 31)]
    assert [p["central"] for p in big["points"]] == [9e23, 1.1e24]
    assert [s["name"] for s in own["series"]] == [big["name"]]


def test_alert_rows_say_when_a_crossing_is_projected() -> None:
    from types import SimpleNamespace

    from tracker.store.queries.common import alert_row

    alert = SimpleNamespace(id=1, kind="flag_change", system_id=7, regime_id="eu-aia-gpaisr-presumption",
                            created_at=None, acknowledged_at=None, acknowledged_by=None,
                            payload_json='{"status": "above", "projected": true, "deadline": "2026-12-11"}')
    row = alert_row(alert, "acme", "acme-lm")
    assert (row["status"], row["projected"], row["deadline"]) == ("above", True, "2026-12-11")
    assert alert_row(SimpleNamespace(**{**vars(alert), "payload_json": "not json"}), None, None)["projected"] is False
