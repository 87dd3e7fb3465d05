"""CLI tables read in an 80-column terminal: no line wider, no figure split, regimes by name.

JSON output is the contract's (numbers as numbers, regime ids); only the tables change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from tests.registration.registration_factories import AS_OF, EU, add_llama, add_small
from tracker.cli.main import app
from tracker.cli.tables import Column, column_widths, interval_text
from tracker.registry.pipeline import run_evaluation
from tracker.units import format_scientific

runner = CliRunner()
EU_NAME_WORDS = ("EU", "AI", "Act:", "systemic-risk", "presumption")


def _run(args: list[str], columns: int = 80) -> str:
    result = runner.invoke(app, args, env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def _fits(text: str, columns: int = 80) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > columns]
    assert too_wide == [], "\n".join(too_wide)


@pytest.fixture
def registry(engine: Engine, settings_env: Path) -> Engine:
    # Llama 3.1 405B (3.8e25 FLOP reported, above the EU's 10^25 presumption) and two small
    # systems, one from a provider with a long slug and a long system name.
    add_llama(engine)
    add_small(engine, "a-provider-with-a-rather-long-slug", "An Unusually Long System Name For A Small Model")
    add_small(engine, "meta", "Llama 2 7B")
    run_evaluation(engine, AS_OF, actor="test")
    return engine


def test_systems_table_fits_80_columns_with_whole_figures(registry: Engine) -> None:
    table = _run(["systems", "--format", "table"])
    _fits(table)
    report = json.loads(_run(["systems", "--format", "json"]))
    llama = next(s for s in report["systems"] if s["system"] == "Llama 3.1 405B")
    central = llama["training_flop"]["central"]
    assert isinstance(central, float) and 1e25 < central < 1e26  # JSON keeps numbers as numbers
    assert any(f["regime"] == EU for f in llama["flags"])  # and regime ids
    # Every figure reads whole on one line: never "3.8 ×" on one line and "10²⁵" on the next.
    for entry in report["systems"]:
        assert format_scientific(entry["training_flop"]["central"]) in table
    assert not re.search(r"\d[eE][+-]?\d", table)
    # Regimes by name, not id
    assert EU not in table and all(word in table for word in EU_NAME_WORDS)
    assert all(word in table.split() for word in "An Unusually Long System Name For A Small Model".split())


@pytest.mark.parametrize("columns", [60, 80, 120, 200])
def test_systems_table_follows_the_terminal_width(registry: Engine, columns: int) -> None:
    table = _run(["systems", "--format", "table"], columns=columns)
    _fits(table, columns)
    report = json.loads(_run(["systems", "--format", "json"]))
    for entry in report["systems"]:
        assert format_scientific(entry["training_flop"]["central"]) in table  # whole, even at 60


def test_registrations_and_alerts_tables_fit_80_columns(registry: Engine) -> None:
    registrations = _run(["registrations", "--format", "table"])
    _fits(registrations)
    assert {"Llama", "3.1", "405B"} <= set(registrations.split()) and EU not in registrations
    assert re.search(r"\b\d{4}-\d{2}-\d{2}\b", registrations)  # the deadline, as a plain date
    alerts = _run(["alerts"])
    _fits(alerts)
    assert EU not in alerts and "systemic-risk" in alerts
    assert re.search(r"\d{4}-\d{2}-\d{2}\s*\n\s*\d{2}:\d{2} UTC", alerts)  # raised: day over time
    assert not re.search(r"\d{4}-\d{2}-\d{2}T", alerts)  # never an ISO "2026-12-04T09:06:00"


def test_json_outputs_stay_machine_readable(registry: Engine) -> None:
    alerts = json.loads(_run(["alerts", "--format", "json"]))["alerts"]
    assert alerts and all(isinstance(a["id"], int) for a in alerts)
    registrations = json.loads(_run(["registrations", "--format", "json"]))["registrations"]
    assert {r["regime"] for r in registrations} == {EU}


@pytest.mark.parametrize(("low", "high", "text"), [
    (3.0e25, 4.7e25, "3.0–4.7 × 10²⁵"),
    (4.2e24, 2.7e25, "4.2 × 10²⁴ –\n2.7 × 10²⁵"),  # one bound a line: still never a split number
    (None, 4.7e25, "—"),
])
def test_interval_text(low: float | None, high: float | None, text: str) -> None:
    assert interval_text(low, high) == text


def test_figure_columns_keep_their_width_and_text_columns_share_the_rest() -> None:
    columns = [Column("Name"), Column("Compute", figure=True), Column("Regimes", ratio=2)]
    rows = [["a provider / a rather long system name", "3.8 × 10²⁵", "EU AI Act: systemic-risk presumption " * 3]]
    widths = column_widths(columns, rows, 80)
    assert widths[1] == len("3.8 × 10²⁵")
    assert sum(widths) + 2 * 2 <= 80  # two gaps of two spaces
    assert widths[2] > widths[0] >= len("provider")  # by ratio, and no word of the name cut
    narrow = column_widths(columns, [["x", "3.8 × 10²⁵", "y"]], 80)
    assert narrow == [len("Name"), len("3.8 × 10²⁵"), len("Regimes")]  # everything fits: natural widths
