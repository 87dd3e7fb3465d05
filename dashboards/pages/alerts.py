"""Alerts: open and acknowledged alerts, one-click acknowledgement, upcoming and overdue deadlines."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, callback, dcc, html, no_update

from dashboards.components import alerts as alert_views
from dashboards.components import inputs
from dashboards.components.formatting import card, day, empty_state, link, page_header, status_badge, table
from tracker.store import queries
from tracker.web.auth import current_scope, db_session

dash.register_page(__name__, path="/alerts", name="Alerts", title="Alerts · Compute threshold tracker", order=2)


def layout(**_: Any) -> html.Div:
    current_scope()
    return html.Div([
        page_header("Alerts", "Flag changes and notification deadlines that need a person."),
        html.Div(id="ack-result", role="status"),
        dcc.Loading(html.Div(_content(), id="alerts-content"), type="circle", delay_show=250),
    ])


def _deadline_table(rows: list[dict[str, Any]], table_id: str) -> Any:
    # Half a page wide: the provider goes under the system and the obligation under the regime.
    return table(["Deadline", "Days", "System and provider", "Regime and obligation", "Status"], [
        [html.Span(day(r["deadline"]), style={"whiteSpace": "nowrap"}), f"{r['days_left']:,}",
         html.Div([link(r["system"], f"/systems/{r['system_id']}"), html.Div(r["provider"], className="muted")]),
         html.Div([r.get("regime_name") or r["regime_id"],
                   html.Div(alert_views.words(r["obligation"]) if r["obligation"] else "—", className="muted")]),
         status_badge(r["status"], r["projected"])] for r in rows],
        table_id=table_id)


def _content() -> list[Any]:
    scope = current_scope()
    with db_session() as session:
        open_alerts, n_open = queries.list_alerts(session, scope, state="open")
        acked, n_acked = queries.list_alerts(session, scope, state="acknowledged", limit=50)
        due = queries.deadlines(session, scope)
    return [
        card(f"Open alerts ({n_open})", alert_views.open_table(open_alerts, scope)),
        html.Div([
            card(f"Overdue notifications ({len(due['overdue'])})",
                 _deadline_table(due["overdue"], "overdue-table") if due["overdue"]
                 else empty_state("No notification is overdue.")),
            card(f"Due in the next 90 days ({len(due['upcoming'])})",
                 _deadline_table(due["upcoming"], "upcoming-table") if due["upcoming"]
                 else empty_state("No notification falls due in the next 90 days.")),
        ], className="grid-2"),
        card(f"Acknowledged ({n_acked}, newest 50)", alert_views.acknowledged_table(acked)),
    ]


@callback(Output("alerts-content", "children"), Output("ack-result", "children"),
          Input({"type": "ack", "alert": ALL}, "n_clicks"), prevent_initial_call=True)
def acknowledge(clicks: list[int | None]) -> tuple[Any, Any]:
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        return no_update, no_update  # buttons appearing after a re-render are not clicks
    scope = current_scope()
    with db_session() as session:
        message = alert_views.acknowledge_in_scope(session, scope, inputs.record_id(trigger.get("alert"), "ack.alert"))
    return _content(), html.Div(message, className="notice")
