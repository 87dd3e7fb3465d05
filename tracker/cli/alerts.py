"""`tracker alerts ...`: list alerts with their delivery state, dispatch, acknowledge, subscribe."""

from __future__ import annotations

import json
import os
from enum import StrEnum

import typer
from sqlmodel import Session

from tracker.alerts.ack import AlertNotFound, acknowledge
from tracker.alerts.dispatch import dispatch_pending
from tracker.alerts.queries import AlertView, list_alerts
from tracker.alerts.subscriptions import list_subscriptions, subscribe
from tracker.cli.errors import fail
from tracker.cli.tables import Column, instant_text, print_table, regime_names
from tracker.config import get_settings
from tracker.store.db import get_engine, session_scope
from tracker.units import format_date, format_datetime

alerts_app = typer.Typer(help="Alerts and their delivery.", invoke_without_command=True)


class Format(StrEnum):
    json = "json"
    table = "table"


def _default_actor() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "cli"


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", help="output: a table to read, or JSON for scripts"),
    limit: int = typer.Option(200, "--limit", min=1, metavar="COUNT", help="newest alerts to show (at least 1)"),
) -> None:
    """Alerts with their delivery state (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    with Session(get_engine()) as session:
        views = list_alerts(session, limit=limit)
        names = regime_names(session, {str(v.body.get("regime")) for v in views if v.body.get("regime")}) \
            if fmt is Format.table else {}
    if fmt is Format.json:
        typer.echo(json.dumps({"alerts": [v.as_json() for v in views]}, indent=2))
    else:
        _print_table(views, names)


def _print_table(views: list[AlertView], names: dict[str, str]) -> None:
    """Newest first; each alert's kind and status over its delivery and acknowledgement."""
    rows = []
    for view in views:
        body = view.body
        who = " / ".join(str(x) for x in (body.get("provider"), body.get("system")) if x) or "—"
        regime = str(body.get("regime") or "")
        what = view.alert.kind.replace("_", " ") + (f": {str(body['status']).replace('_', ' ')}"
                                                    if body.get("status") else "")
        delivery = f"({view.delivery_state}" + (f"; acknowledged by {view.alert.acknowledged_by or '?'})"
                                                if view.alert.acknowledged_at else ")")
        rows.append([str(view.alert.id), instant_text(view.alert.created_at), who,
                     names.get(regime, regime) or "—", f"{what}\n{delivery}", format_date(body.get("deadline"))])
    print_table("Alerts, newest first", [
        Column("ID", figure=True, right=True), Column("Raised", figure=True), Column("Provider / system"),
        Column("Regime"), Column("Alert (delivery)"), Column("Deadline", figure=True)], rows)


@alerts_app.command("dispatch")
def dispatch(limit: int = typer.Option(100, "--limit", min=1, metavar="COUNT",
                                      help="deliveries to attempt (at least 1)")) -> None:
    """Deliver what is pending now (what the scheduler does every few seconds)."""
    report = dispatch_pending(get_engine(), get_settings(), limit=limit)
    typer.echo(report.summary())
    if report.dead:
        raise typer.Exit(1)


@alerts_app.command("ack")
def ack(
    alert_id: int = typer.Argument(..., metavar="ID", help="the alert's id"),
    by: str = typer.Option(None, "--by", metavar="NAME", help="who acknowledges; default: $USER"),
) -> None:
    """Acknowledge an alert (recorded in the audit log)."""
    actor = by or _default_actor()
    try:
        with session_scope(get_engine()) as session:
            alert = acknowledge(session, alert_id, actor=actor)
    except AlertNotFound as exc:
        fail(str(exc))
    assert alert.acknowledged_at is not None
    typer.echo(f"alert {alert_id} acknowledged by {alert.acknowledged_by} at {format_datetime(alert.acknowledged_at)}")


@alerts_app.command("subscribe")
def subscribe_cmd(
    sink: str = typer.Argument(..., metavar="SINK", help="webhook:<url>, email:<address> or log:<path>"),
    regime: str = typer.Option(None, "--regime", metavar="REGIME", help="only alerts about this regime id"),
    provider: str = typer.Option(None, "--provider", metavar="SLUG", help="only alerts about this provider"),
    system: int = typer.Option(None, "--system", metavar="ID", help="only alerts about this system id"),
    by: str = typer.Option(None, "--by", metavar="NAME", help="who subscribes; default: $USER"),
) -> None:
    """Send alerts to SINK: all of them, or one regime's, provider's or system's."""
    scopes = [(k, v) for k, v in (("regime", regime), ("provider", provider), ("system", system))
              if v is not None]
    if len(scopes) > 1:
        fail("give at most one of --regime, --provider, --system")
    kind, value = scopes[0] if scopes else ("all", None)
    try:
        with session_scope(get_engine()) as session:
            sub = subscribe(session, sink, scope_kind=kind,
                            scope_value=None if value is None else str(value),
                            actor=by or _default_actor())
    except ValueError as exc:
        fail(str(exc))
    typer.echo(f"subscription {sub.id}: {sub.sink} receives {_scope_text(kind, value)}")


def _scope_text(kind: str, value: object) -> str:
    return "every alert" if kind == "all" else f"alerts about {kind} {value}"


@alerts_app.command("subscriptions")
def subscriptions() -> None:
    """List the subscriptions (the sinks configured in settings receive every alert as well)."""
    with Session(get_engine()) as session:
        subs = list_subscriptions(session)
    for sub in subs:
        typer.echo(f"{sub.id}\t{sub.sink}\t{_scope_text(sub.scope_kind, sub.scope_value)}")
    if not subs:
        typer.echo("no subscriptions")


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
