"""`tracker regimes set-threshold|settings|conditions`: the regulator's thresholds and the
conditions providers may declare."""

from __future__ import annotations

import json
from enum import StrEnum

import typer

from tracker.cli.errors import fail
from tracker.regimes.settings import SETTABLE_METRICS, SettingError, record_setting, settable_ids, stored_settings
from tracker.store.db import session_scope
from tracker.units import format_metric

regimes_app = typer.Typer(help="Regimes: regulator-set thresholds and declarable conditions.", no_args_is_help=True)


class Format(StrEnum):
    json = "json"
    table = "table"


@regimes_app.command("set-threshold")
def set_threshold(
    regime_id: str = typer.Argument(..., metavar="REGIME",
                                    help="a regime whose text publishes no number, e.g. cn-tc260-registration"),
    metric: str = typer.Option(..., "--metric", metavar="METRIC",
                               help=f"{', '.join(SETTABLE_METRICS)} (or training_flop)"),
    threshold: str = typer.Option(..., "--threshold", metavar="FLOP", help="e.g. 1e25, 10^25 or 1 × 10²⁵"),
    reason: str = typer.Option(..., "--reason", help="why this number (kept and audited)"),
    by: str = typer.Option(..., "--by", metavar="NAME", help="who sets it"),
) -> None:
    """Set (or change) a regime's threshold; the next evaluation uses it. History is kept."""
    from tracker.registry.pipeline import default_regimes

    try:
        with session_scope() as session:
            setting = record_setting(session, default_regimes(), regime_id=regime_id, metric=metric,
                                     threshold=threshold, reason=reason, set_by=by, actor=f"cli:{by}")
    except SettingError as exc:
        fail(str(exc))
    typer.echo(f"{setting.regime_id}: {setting.metric} ≥ {format_metric(setting.threshold, setting.metric)} "
               f"(setting {setting.id}, by {setting.set_by}); the next evaluation uses it")


@regimes_app.command("settings")
def settings(
    regime_id: str | None = typer.Argument(None, metavar="REGIME", help="one regime; default: all",
                                           show_default=False),
    fmt: Format = typer.Option(Format.table, "--format", help="output: a table to read, or JSON for scripts"),
) -> None:
    """Every threshold set, newest first (the first per regime is in force)."""
    from tracker.registry.pipeline import default_regimes

    with session_scope() as session:
        rows = stored_settings(session, regime_id)
    if fmt is Format.json:
        typer.echo(json.dumps({"settable": settable_ids(default_regimes()), "settings": [
            {"id": s.id, "regime": s.regime_id, "metric": s.metric, "comparator": s.comparator,
             "threshold": s.threshold, "reason": s.reason, "set_by": s.set_by,
             "set_at": s.set_at.isoformat() if s.set_at else None} for s in rows]}, indent=2))
        return
    if not rows:
        typer.echo(f"no threshold set; settable regimes: {', '.join(settable_ids(default_regimes()))}")
        return
    from tracker.cli.tables import Column, instant_text, print_table, regime_names

    with session_scope() as session:
        names = regime_names(session, {s.regime_id for s in rows})
    seen: set[str] = set()
    table = []
    for s in rows:
        state = "in force" if s.regime_id not in seen else "replaced"
        seen.add(s.regime_id)
        table.append([str(s.id), f"{names.get(s.regime_id, s.regime_id)}\n({s.metric})",
                      f"≥ {format_metric(s.threshold, s.metric)}", state, instant_text(s.set_at),
                      f"{s.set_by}: {s.reason}"])
    print_table("Regulator-set thresholds, newest first", [
        Column("ID", figure=True, right=True), Column("Regime (metric)"), Column("Threshold", figure=True),
        Column("State", figure=True), Column("Set", figure=True), Column("By: reason")], table)


@regimes_app.command("conditions")
def conditions() -> None:
    """The condition keys a provider may declare (kind system_conditions) and what each means."""
    from tracker.filing.conditions import known_conditions

    for key, text in sorted(known_conditions().items()):
        typer.echo(f"{key:<45} {text}")


def register(app: typer.Typer) -> None:
    app.add_typer(regimes_app, name="regimes")
