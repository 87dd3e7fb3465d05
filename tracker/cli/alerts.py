"""`tracker alerts ...`: list alerts with their delivery state, dispatch, acknowledge, subscribe."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum

import typer
from rich.console import Console
from rich.table import Table
from sqlmodel import Session

from tracker.alerts.ack import AlertNotFound, acknowledge
from tracker.alerts.dispatch import dispatch_pending
from tracker.alerts.queries import AlertView, list_alerts
from tracker.alerts.subscriptions import list_subscriptions, subscribe
from tracker.cli.errors import fail
from tracker.config import get_settings
from tracker.store.db import get_engine, session_scope

alerts_app = typer.Typer(help="Alerts and their delivery.", invoke_without_command=True)


class Format(StrEnum):
    json = "json"
    table = "table"


def _default_actor() -> str:
    return os.environ.get("USER") or os.environ.get("USERNAME") or "cli"


@alerts_app.callback()
def alerts(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", help="json or table"),
    limit: int = typer.Option(200, "--limit", min=1, help="newest alerts to show"),
) -> None:
    """Alerts with their delivery state (newest first)."""
    if ctx.invoked_subcommand is not None:
        return
    with Session(get_engine()) as session:
        views = list_alerts(session, limit=limit)
    if fmt is Format.json:
        typer.echo(json.dumps({"alerts": [v.as_json() for v in views]}, indent=2))
    else:
        _print_table(views)


def _print_table(views: list[AlertView]) -> None:
    table = Table(title="Alerts")
    for name in ("id", "created (UTC)", "kind", "provider/system", "regime", "status", "deadline",
                 "delivery", "acknowledged"):
        table.add_column(name)
    for view in views:
        body = view.body
        who = "/".join(str(x) for x in (body.get("provider"), body.get("system")) if x) or "-"
        ack = (view.alert.acknowledged_by or "?") if view.alert.acknowledged_at else ""
        table.add_row(str(view.alert.id), view.alert.created_at.strftime("%Y-%m-%d %H:%M"),
                      view.alert.kind, who, str(body.get("regime") or "-"),
                      str(body.get("status") or "-"), str(body.get("deadline") or "-"),
                      view.delivery_state, ack)
    Console(file=sys.stdout, width=160).print(table)


@alerts_app.command("dispatch")
def dispatch(limit: int = typer.Option(100, "--limit", min=1, help="deliveries to attempt")) -> None:
    """Deliver what is pending now (what the scheduler does every few seconds)."""
    report = dispatch_pending(get_engine(), get_settings(), limit=limit)
    typer.echo(report.summary())
    if report.dead:
        raise typer.Exit(1)


@alerts_app.command("ack")
def ack(
    alert_id: int = typer.Argument(..., help="the alert's id"),
    by: str = typer.Option(None, "--by", help="who acknowledges (default: $USER)"),
) -> None:
    """Acknowledge an alert (recorded in the audit log)."""
    actor = by or _default_actor()
    try:
        with session_scope(get_engine()) as session:
            alert = acknowledge(session, alert_id, actor=actor)
    except AlertNotFound as exc:
        fail(str(exc))
    assert alert.acknowledged_at is not None
    typer.echo(f"alert {alert_id} acknowledged by {alert.acknowledged_by} "
               f"at {alert.acknowledged_at.isoformat(timespec='seconds')}")


@alerts_app.command("subscribe")
def subscribe_cmd(
    sink: str = typer.Argument(..., help="webhook:<url>, email:<address> or log:<path>"),
    regime: str = typer.Option(None, "--regime", help="only alerts about this regime id"),
    provider: str = typer.Option(None, "--provider", help="only alerts about this provider slug"),
    system: int = typer.Option(None, "--system", help="only alerts about this system id"),
    by: str = typer.Option(None, "--by", help="who subscribes (default: $USER)"),
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
