"""Alert tables and the acknowledge action, shared by the alerts list and one alert's page."""

from __future__ import annotations

from typing import Any

from dash import html
from sqlmodel import Session

from dashboards.components.formatting import day, empty_state, link, status_badge, system_label, table, when
from tracker.auth.scope import Scope
from tracker.store import queries

ACK_ROLES = ("regulator", "admin")


def can_acknowledge(scope: Scope) -> bool:
    return scope.role in ACK_ROLES


def acknowledge_in_scope(session: Session, scope: Scope, alert_id: int) -> str:
    """Acknowledge when the caller may and the alert is theirs to see; returns what happened."""
    from tracker.alerts.ack import acknowledge  # the alerts engineer's module; loaded on use

    if not can_acknowledge(scope):
        return "Only regulator and administrator accounts acknowledge alerts."
    if not queries.alert_in_scope(session, scope, alert_id):
        return "There is no alert with this id that your account can see."
    alert = acknowledge(session, alert_id, actor=scope.actor)
    return f"Alert {alert_id} acknowledged by {alert.acknowledged_by} at {when(alert.acknowledged_at)}."


def alert_rows(alerts: list[dict[str, Any]], *, with_button: bool, button_type: str = "ack") -> list[list[Any]]:
    rows = []
    for a in alerts:
        # The provider under the system: one column fewer, so the table fits a 1,024 px window.
        subject = html.Div([link(system_name(a), f"/systems/{a['system_id']}") if a["system_id"] else "—",
                            html.Div(a["provider"] or "—", className="muted")])
        action: Any = (html.Button("Acknowledge", id={"type": button_type, "alert": a["id"]},
                                   className="button small primary")
                       if with_button else acknowledgement(a))
        rows.append([link(f"#{a['id']}", f"/alerts/{a['id']}"),
                     html.Span(when(a["created_at"]), style={"whiteSpace": "nowrap"}), words(a["kind"]),
                     subject, a.get("regime_name") or a["regime_id"] or "—",
                     status_badge(a["status"], a.get("projected", False)) if a["status"] else "—",
                     day(a["deadline"]), action])
    return rows


HEADERS = ["Alert", "Raised", "Kind", "System and provider", "Regime", "Status", "Deadline"]


def system_name(a: dict[str, Any]) -> str:
    """The alert's system with its version ("acme-lm 2"); "—" for an alert about no system."""
    return system_label(a.get("system"), a.get("version"))


def words(kind: str | None) -> str:
    """An alert kind (``flag_change``) as words ("Flag change")."""
    return (kind or "—").replace("_", " ").capitalize()


def acknowledgement(a: dict[str, Any]) -> str:
    """"2026-12-04 09:05 UTC by reg", or "Open" while nobody has acknowledged the alert."""
    if a.get("acknowledged_at") is None:
        return "Open"
    return f"{when(a['acknowledged_at'])} by {a.get('acknowledged_by') or 'an unnamed account'}"


def open_table(alerts: list[dict[str, Any]], scope: Scope) -> Any:
    if not alerts:
        return empty_state("No open alerts.", "New alerts appear here when a flag changes or a deadline nears.")
    ack = can_acknowledge(scope)
    return table([*HEADERS, "Acknowledge" if ack else "Acknowledged"], alert_rows(alerts, with_button=ack),
                 table_id="open-alerts")


def acknowledged_table(alerts: list[dict[str, Any]]) -> Any:
    if not alerts:
        return empty_state("Nothing acknowledged yet.")
    return table([*HEADERS, "Acknowledged"], alert_rows(alerts, with_button=False), table_id="acked-alerts")
