"""`tracker systems` (contract §3): the projected training figure and the latest usage period beside
the contract's fields, scoped and masked as the rest of the report, on both backends."""

from __future__ import annotations

import json

import polars as pl
import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from tests.dashboard import factories
from tests.dashboard.figure_factories import (
    AGED_PERIOD,
    MASKED_PLANNED_FLOP,
    PLANNED_FLOP,
    RIVAL_PLANNED_FLOP,
    Planted,
)
from tests.store.conftest import acme_scope
from tests.store.seed import REGULATOR
from tracker.registry.report import build_report, report_from_db


def _by_name(report: dict[str, object]) -> dict[str, dict[str, object]]:
    return {s["system"]: s for s in report["systems"]}  # type: ignore[attr-defined,index]


def test_a_planned_only_system_reports_its_projected_figure(engine: Engine, world: factories.World,
                                                           planted: Planted) -> None:
    with Session(engine) as session:
        report = _by_name(report_from_db(session, REGULATOR))
    planned = report["acme-planned"]
    assert planned["training_flop"] is None  # no completed run: the contract's field stays null
    assert planned["projected_training_flop"] == {
        "central": PLANNED_FLOP, "low": pytest.approx(PLANNED_FLOP * 0.77), "high": pytest.approx(PLANNED_FLOP * 1.3),
        "methods": ["hardware"], "confidence": None}
    assert [(f["regime"], f["status"], f["projected"]) for f in planned["flags"]] == [  # type: ignore[union-attr]
        ("eu-test-presumption", "above", True), ("us-test-model", "above", True)]
    assert report["acme-lm"]["projected_training_flop"] is None  # none stored: null, not its training figure


def test_the_latest_usage_period_stays_when_the_30_day_figure_is_null(engine: Engine, world: factories.World,
                                                                     planted: Planted) -> None:
    with Session(engine) as session:
        report = _by_name(report_from_db(session, REGULATOR))
    mini = report["acme-mini"]
    assert mini["inference_flop_30d"] is None
    assert mini["inference_flop_latest_period"] == {
        "central": 4.4e23, "low": pytest.approx(4.4e23 / 1.5), "high": pytest.approx(4.4e23 * 1.5),
        "period_start": AGED_PERIOD[0].isoformat(), "period_end": AGED_PERIOD[1].isoformat()}
    assert report["acme-lm"]["inference_flop_latest_period"]["period_end"] == "2026-10-31"  # type: ignore[index]
    assert report["acme-planned"]["inference_flop_latest_period"] is None


def test_a_provider_reads_no_projected_figure_through_a_confidential_base(engine: Engine, world: factories.World,
                                                                         planted: Planted) -> None:
    acme = acme_scope(world)
    with Session(engine) as session:
        own = report_from_db(session, acme)
        everything = _by_name(report_from_db(session, REGULATOR))
    text = json.dumps(own)
    assert "rival-planned" not in text and repr(RIVAL_PLANNED_FLOP) not in text
    assert repr(MASKED_PLANNED_FLOP) not in text and repr(MASKED_PLANNED_FLOP * 1.3) not in text
    on_rival = _by_name(own)["acme-on-rival"]
    assert on_rival["projected_training_flop"] is None and on_rival["masked_reason"]
    assert everything["acme-on-rival"]["projected_training_flop"]["central"] == MASKED_PLANNED_FLOP  # type: ignore[index]


def test_the_calculator_report_keeps_its_shape() -> None:
    """``tracker estimate`` builds the report from frames without these columns: no new keys appear."""
    systems = pl.DataFrame({"system_key": ["1"], "provider": [None], "name": ["x"], "version": [""],
                            "training_flop_central": [1e25], "training_flop_low": [8e24], "training_flop_high": [2e25],
                            "confidence": ["likely"], "methods": [["reported"]]})
    flags = pl.DataFrame(schema={"subject_key": pl.String, "regime_id": pl.String, "status": pl.String,
                                 "projected": pl.Boolean, "threshold": pl.Float64, "deadline": pl.Date})
    entry = build_report(systems, flags, include_inference=False)["systems"][0]
    assert set(entry) == {"provider", "system", "version", "training_flop", "confidence", "methods", "flags"}


def test_the_table_shows_the_projected_figure(settings_env: object, engine: Engine, world: factories.World,
                                              planted: Planted) -> None:
    from tracker.cli.main import app

    result = CliRunner().invoke(app, ["systems", "--format", "table"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    at = next(i for i, x in enumerate(lines) if "acme-planned" in x)
    # The figure, marked under it in the same cell (the column stays narrow at 80 columns).
    assert "1.1 × 10²⁷" in lines[at] and "no estimate" not in lines[at]
    assert "(projected)" in lines[at + 1] and "acme" not in lines[at + 1]
