"""A provider's fine-tune of another provider's confidential system (filed before the lineage rule)
shows that provider only its own compute and a lower bound, through every forged callback; the
regulator keeps the cumulative figure (tracker/store/queries/confidential.py)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from tests.dashboard import factories
from tests.web.conftest import Site, callback
from tracker.auth.scope import Scope
from tracker.store.models import AISystem, Regime
from tracker.store.queries import deadlines, list_alerts, system_detail, systems_export

GRID = "..systems-grid.getRowsResponse...sys-count.children.."
OVERVIEW = "..ov-stats.children...ov-scatter.figure...ov-sample-note.children...ov-inference.children.."
PAGES = ".._pages_content.children..._pages_store.data.."
CUMULATIVE = 7.3e25  # rival's confidential base 7.3e25 + acme's own fine-tune 1e22, as stored by an evaluation
SHOWN = "7.3 × 10²⁵"


def _plant(site: Site) -> int:
    """acme-ft: acme's fine-tune of rival's confidential rival-secret, filed before the rule."""
    with Session(site.engine) as session:
        acme = session.get(AISystem, site.world.ids["big"])
        secret = session.get(AISystem, site.world.ids["secret"])
        assert acme is not None and secret is not None
        owner = session.get(factories.Provider, acme.provider_id)
        assert owner is not None
        ft = factories.system(session, owner, "acme-ft", base=secret)
        factories.estimate(session, ft, CUMULATIVE, methods="hardware,reported", confidence="likely")
        factories.estimate(session, ft, 1e22, kind="modification", spread=1.25, methods="reported")
        factories.estimate(session, ft, CUMULATIVE, kind="projected")
        eu = session.get(Regime, "eu-test-presumption")
        assert eu is not None
        factories.flag(session, ft, eu, "above", value=CUMULATIVE, deadline=date.today())
        factories.alert(session, owner, ft, regime_id=eu.id)
        factories.alert(session, owner, ft, regime_id="us-test-model")  # its own largest run: not masked
        factories.summarise(session)
        session.commit()
        assert ft.id is not None
        return ft.id


def _text(response: object) -> str:
    """The callback's answer as text, unescaped (the figures' "×" is \\u00d7 in the raw JSON)."""
    return json.dumps(response.json, ensure_ascii=False)  # type: ignore[attr-defined]


def _grid(client: object, filter_model: dict[str, object], sort: list[dict[str, str]] | None = None
          ) -> dict[str, object]:
    response = callback(client, GRID, [("systems-grid", "getRowsRequest",  # type: ignore[arg-type]
                                        {"startRow": 0, "endRow": 100, "sortModel": sort or [],
                                         "filterModel": filter_model})])
    assert response.status_code == 200, response.text
    return response.json["response"]["systems-grid"]["getRowsResponse"]  # type: ignore[no-any-return]


def test_the_system_page_shows_the_provider_only_its_own_compute(site: Site) -> None:
    ft = _plant(site)
    path = [("_pages_location", "pathname", f"/systems/{ft}"), ("_pages_location", "search", "")]
    own = callback(site.login("acme-user"), PAGES, path)
    assert own.status_code == 200 and "acme-ft" in _text(own)
    assert SHOWN not in _text(own) and "10²⁵" not in _text(own).replace("1.0 × 10²⁵", "")
    regulator = callback(site.login("reg"), PAGES, path)
    assert SHOWN in _text(regulator)


def test_the_query_layer_masks_the_detail_for_the_provider_only(site: Site) -> None:
    ft = _plant(site)
    acme = Scope(actor="acme-user", role="provider", provider_id=site.world.ids["acme"])
    with Session(site.engine) as session:
        masked = system_detail(session, acme, ft)
        whole = system_detail(session, Scope(actor="reg", role="regulator"), ft)
    assert masked is not None and whole is not None
    training = next(e for e in masked["estimates"] if e["kind"] == "training")
    assert (training["central"], training["high"]) == (None, None)
    assert training["low"] == pytest.approx(1e22 / 1.25)  # at least its own compute
    assert not any(e["kind"] == "projected" for e in masked["estimates"])
    flag = masked["flags"][0]
    assert flag["status"] == "unknown" and flag["value_central"] is None and flag["deadline"] is None
    assert masked["flag_history"] == [] and masked["lineage"]["ancestors"][0]["training_flop"] is None
    assert next(e for e in whole["estimates"] if e["kind"] == "training")["central"] == CUMULATIVE
    assert whole["flags"][0]["status"] == "above"


def test_grid_rows_sorts_and_filters_cannot_read_the_cumulative_figure(site: Site) -> None:
    ft = _plant(site)
    client = site.login("acme-user")
    rows = {r["id"]: r for r in _grid(client, {})["rowData"]}  # type: ignore[union-attr]
    assert rows[ft]["training_flop"] is None and rows[ft]["training_high_flop"] is None
    assert rows[ft]["training_low_flop"] == pytest.approx(1e22 / 1.25) and rows[ft]["status"] == "unknown"
    # A filter or a sort on the masked figure is an oracle unless it runs on the masked value too.
    above = _grid(client, {"training_flop": {"filterType": "number", "type": "greaterThan", "filter": 5e25}})
    assert ft not in {r["id"] for r in above["rowData"]}  # type: ignore[union-attr]
    crossing = _grid(client, {"status": {"filterType": "text", "type": "equals", "filter": "above"}})
    assert ft not in {r["id"] for r in crossing["rowData"]}  # type: ignore[union-attr]
    ordered = _grid(client, {}, [{"colId": "training_flop", "sort": "desc"}])["rowData"]
    assert [r["id"] for r in ordered][-1] == ft  # type: ignore[index]  # no figure: last, not first
    regulator = {r["id"]: r for r in _grid(site.login("reg"), {})["rowData"]}  # type: ignore[union-attr]
    assert regulator[ft]["training_flop"] == CUMULATIVE
    with Session(site.engine) as session:
        exported = systems_export(session, Scope(actor="a", role="provider", provider_id=site.world.ids["acme"]))
    assert next(r for r in exported if r["id"] == ft)["training_flop"] is None


def test_the_overview_leaves_the_masked_system_out_for_its_provider(site: Site) -> None:
    ft = _plant(site)
    inputs = [("ov-regime", "value", None), ("ov-provider", "value", None), ("ov-status", "value", None),
              ("ov-dates", "start_date", None), ("ov-dates", "end_date", None)]
    own = callback(site.login("acme-user"), OVERVIEW, inputs)
    assert own.status_code == 200
    assert "acme-ft" not in _text(own) and SHOWN not in _text(own)
    whole = _text(callback(site.login("reg"), OVERVIEW, inputs))
    assert "acme-ft" in whole and SHOWN in whole
    del ft


def test_alerts_and_deadlines_of_lineage_regimes_are_left_out_for_the_provider(site: Site) -> None:
    ft = _plant(site)
    acme = Scope(actor="acme-user", role="provider", provider_id=site.world.ids["acme"])
    regulator = Scope(actor="reg", role="regulator")
    with Session(site.engine) as session:
        own_alerts = {(a["system_id"], a["regime_id"]) for a in list_alerts(session, acme)[0]}
        all_alerts = {(a["system_id"], a["regime_id"]) for a in list_alerts(session, regulator)[0]}
        own_due = [d["system_id"] for d in deadlines(session, acme)["upcoming"]]
        all_due = [d["system_id"] for d in deadlines(session, regulator)["upcoming"]]
    assert (ft, "eu-test-presumption") in all_alerts and (ft, "eu-test-presumption") not in own_alerts
    assert (ft, "us-test-model") in own_alerts
    assert ft in all_due and ft not in own_due


runner = CliRunner()


def test_cli_systems_for_a_provider_is_masked(site: Site, settings_env: Path) -> None:
    # settings_env points the CLI at the same database the site was seeded in.
    ft = _plant(site)
    from tracker.cli.main import app

    scoped = runner.invoke(app, ["systems", "--provider", "acme", "--format", "json"])
    assert scoped.exit_code == 0, scoped.output
    entry = next(s for s in json.loads(scoped.stdout)["systems"] if s["system"] == "acme-ft")
    assert entry["training_flop"] is None and entry["training_flop_at_least"] == pytest.approx(1e22 / 1.25)
    assert all(f["regime"] != "eu-test-presumption" for f in entry["flags"]) and "includes another" in \
        entry["masked_reason"]
    assert {s["provider"] for s in json.loads(scoped.stdout)["systems"]} == {"acme"}
    whole = runner.invoke(app, ["systems", "--format", "json"])
    full = next(s for s in json.loads(whole.stdout)["systems"] if s["system"] == "acme-ft")
    assert full["training_flop"]["central"] == CUMULATIVE
    del ft
