"""One alert (the page an alert's webhook ``url`` points to when it names no system or filing)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from dashboards.components import alerts as alert_views
from dashboards.components import inputs
from dashboards.components.formatting import card, error_message, link, page_header, table, when
from tracker.store import queries
from tracker.web.auth import current_scope, db_session

dash.register_page(__name__, path_template="/alerts/<alert_id>", name="Alert",
                   title="Alert · Compute threshold tracker")

NOT_VISIBLE = "There is no alert with this id that your account can see."


def _find(alert_id: int) -> dict[str, Any] | None:
    scope = current_scope()
    with db_session() as session:
        if not queries.alert_in_scope(session, scope, alert_id):
            return None
        rows, _ = queries.list_alerts(session, scope, state="all", limit=1000)
    return next((a for a in rows if a["id"] == alert_id), None)


def layout(alert_id: str | None = None, **_: Any) -> html.Div:
    scope = current_scope()
    try:
        aid = inputs.record_id(alert_id, "alert_id")
    except inputs.BadInput:
        return html.Div([page_header("Alert"), error_message(NOT_VISIBLE)])
    alert = _find(aid)
    if alert is None:
        return html.Div([page_header("Alert"), error_message(NOT_VISIBLE), link("All alerts", "/alerts")])
    is_open = alert["acknowledged_at"] is None
    rows = alert_views.alert_rows([alert], with_button=is_open and alert_views.can_acknowledge(scope),
                                  button_type="ack-one")
    return html.Div([
        page_header(f"Alert #{aid}", alert["kind"]),
        card(None, table([*alert_views.HEADERS, "Acknowledge" if is_open else "Acknowledged"], rows)),
        _repeats(scope, aid),
        html.Div(id="alert-ack-result", role="status"),
    ])


def _repeats(scope: Any, alert_id: int) -> Any:
    """A rejection filed again with the same bytes and problems raises no new alert: say how often."""
    with db_session() as session:
        repeats = queries.rejection_repeats(session, scope, alert_id)
    if repeats is None or repeats["count"] < 2:
        return None
    last = repeats["last_accession"]
    return html.P(["The same file was rejected for the same problems ", html.Strong(f"{repeats['count']:,} times"),
                   " in all; the last attempt, ", link(last, f"/filings/{last}"), f", on {when(repeats['last_at'])}."],
                  className="notice", id="alert-repeats")


@callback(Output("alert-ack-result", "children"), Input({"type": "ack-one", "alert": dash.ALL}, "n_clicks"),
          prevent_initial_call=True)
def acknowledge(clicks: list[int | None]) -> Any:
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(clicks or []):
        return dash.no_update
    with db_session() as session:
        message = alert_views.acknowledge_in_scope(session, current_scope(),
                                                   inputs.record_id(trigger.get("alert"), "ack-one.alert"))
    return html.Div(message, className="notice")
