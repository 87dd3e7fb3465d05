"""One alert (the page an alert's webhook ``url`` points to when it names no system or filing).

What the list row cannot hold: the change (previous and new status), the figure against the
threshold in the metric's unit, a discrepancy's reported and estimated figures, a rejected filing
with a link to it, and the delivery state of each sink. An alert the account may not see gets the
same page as one that does not exist (``queries.alert_detail`` answers None for both).
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, html

from dashboards.components import alerts as alert_views
from dashboards.components import inputs
from dashboards.components.formatting import (
    COMPARATORS,
    card,
    empty_state,
    error_message,
    format_flop,
    format_metric,
    format_metric_estimate,
    format_number,
    link,
    page_header,
    status_badge,
    table,
    when,
)
from tracker.store.queries.alerts import alert_detail, rejection_repeats
from tracker.web.auth import current_scope, db_session

dash.register_page(__name__, path_template="/alerts/<alert_id>", name="Alert",
                   title="Alert · Compute threshold tracker")

NOT_VISIBLE = "There is no alert with this id that your account can see."
# The theme's colours for the delivery states: green delivered, red failed, grey still pending.
DELIVERY_BADGES = {"delivered": "filing-accepted", "failed": "filing-rejected", "pending": "status-unknown"}


def _not_found() -> html.Div:
    return html.Div([page_header("Alert"), error_message(NOT_VISIBLE), link("All alerts", "/alerts")],
                    id="alert-not-found")


def layout(alert_id: str | None = None, **_: Any) -> html.Div:
    scope = current_scope()
    try:
        aid = inputs.record_id(alert_id, "alert_id")
    except inputs.BadInput:
        return _not_found()
    with db_session() as session:
        alert = alert_detail(session, scope, aid)
    if alert is None:
        return _not_found()
    is_open = alert["acknowledged_at"] is None
    action: Any = (html.Button("Acknowledge", id={"type": "ack-one", "alert": aid}, className="button primary")
                   if is_open and alert_views.can_acknowledge(scope) else None)
    return html.Div([
        page_header(f"Alert #{aid}: {alert_views.words(alert['kind'])}", _subtitle(alert)),
        card("What happened", table(["Field", "Value"], _facts(alert, regulator=scope.sees_everything), class_name="kv",
                   table_id="alert-facts"),
             action),
        card("Delivery", _deliveries(alert["deliveries"], regulator=scope.sees_everything)),
        _repeats(scope, aid),
        html.Div(id="alert-ack-result", role="status"),
    ], id="alert-detail")


def _subtitle(alert: dict[str, Any]) -> str:
    who = " · ".join(part for part in (alert["provider"], alert_views.system_name(alert))
                     if part and part != "—")
    return f"{who} · raised {when(alert['created_at'])}" if who else f"Raised {when(alert['created_at'])}"


def _metric(alert: dict[str, Any]) -> str | None:
    regime = alert.get("regime") or {}
    return regime.get("metric")


def _figure(alert: dict[str, Any]) -> str | None:
    """The value the alert compared with the threshold (the payload's ``training_flop`` is the flag's
    value), in its regime metric's unit: FLOP, FLOP per 30 days, OP/s, a ratio, users or USD."""
    figure = alert["payload"].get("training_flop")
    if not isinstance(figure, dict) or figure.get("central") is None:
        return None
    return format_metric_estimate(figure["central"], figure.get("low"), figure.get("high"), _metric(alert))


def _registration(payload: dict[str, Any], regulator: bool) -> Any:
    """The registration a ``registration`` alert is about, on the page the account reviews or files it."""
    number = payload.get("registration_id")
    if not isinstance(number, int):
        return None
    return link(f"Registration {number}", f"/registrations?id={number}" if regulator else "/my-registrations")


def _facts(alert: dict[str, Any], *, regulator: bool) -> list[list[Any]]:
    payload: dict[str, Any] = alert["payload"]
    regime = alert.get("regime")
    status = payload.get("status")
    facts: list[tuple[str, Any]] = [
        ("Kind", alert_views.words(alert["kind"])),
        ("Provider", alert["provider"]),
        ("System", link(alert_views.system_name(alert), f"/systems/{alert['system_id']}")
         if alert["system_id"] else None),
        ("Regime", link(regime["name"], "/regimes") if regime else None),
        ("Previous status", _status(payload.get("previous_status"), payload.get("previous_projected"))
         if alert["kind"] == "flag_change" else None),
        ("New status" if alert["kind"] == "flag_change" else "Status",
         _status(status, payload.get("projected")) if status else None),
        ("Figure", _figure(alert) if alert["kind"] != "discrepancy" else None),  # said below, beside the reported one
        ("Threshold", _threshold(alert) if payload.get("threshold") is not None else None),
        ("Deadline", when(payload.get("deadline")) if payload.get("deadline") else None),
        *_discrepancy(alert),
        *(_rejection(payload) if alert["kind"] == "filing_rejected" else []),
        ("Registration", _registration(payload, regulator)),
        ("Registration number", payload.get("registration_number")),
        ("Acknowledged", alert_views.acknowledgement(alert)),
    ]
    return [[label, value] for label, value in facts if value not in (None, "")]


def _threshold(alert: dict[str, Any]) -> str:
    sign = COMPARATORS.get(str((alert.get("regime") or {}).get("comparator")), "")
    return f"{sign} {format_metric(alert['payload']['threshold'], _metric(alert))}".strip()


def _status(status: Any, projected: Any) -> Any:
    if not status:
        return "None yet (first evaluation)"
    if str(status) in ("above", "likely_above", "likely_below", "below", "unknown"):
        return status_badge(str(status), bool(projected))
    return alert_views.words(str(status))


def _discrepancy(alert: dict[str, Any]) -> list[tuple[str, Any]]:
    payload = alert["payload"]
    if alert["kind"] != "discrepancy":
        return []
    estimated = (payload.get("training_flop") or {}).get("central")
    return [("Reported by the provider", format_flop(payload.get("reported_flop"))),
            ("Estimated by the tracker", format_flop(estimated)),
            ("Reported ÷ estimated", format_number(payload.get("ratio")) if payload.get("ratio") is not None else None),
            ("Compared with", alert_views.words(payload.get("source")) if payload.get("source") else None)]


def _rejection(payload: dict[str, Any]) -> list[tuple[str, Any]]:
    accession = payload.get("accession")
    first = payload.get("first_errors") or []
    return [("Filing", link(str(accession), f"/filings/{accession}") if accession else None),
            ("File", payload.get("filename")),
            ("Problems", f"{payload['errors']:,}" if isinstance(payload.get("errors"), int) else None),
            ("First problems", html.Ul([html.Li(str(e)) for e in first]) if first else None)]


def _deliveries(deliveries: list[dict[str, Any]], *, regulator: bool) -> Any:
    if not deliveries:
        return empty_state("No sink was configured when this alert was raised.",
                           "Sinks are set in the administration page or with TRACKER_ALERT_WEBHOOK_URL."
                           if regulator else None)
    return table(["Sink", "State", "Attempts", "Last error", "Delivered", "Next attempt"], [
        [d["sink"], html.Span(d["status"], className=f"badge {DELIVERY_BADGES.get(d['status'], 'status-unknown')}"),
         f"{d['attempts']:,}",
         d["last_error"] or "—", when(d["delivered_at"]), when(d["next_attempt_at"])] for d in deliveries],
        table_id="alert-deliveries")


def _repeats(scope: Any, alert_id: int) -> Any:
    """A rejection filed again with the same bytes and problems raises no new alert: say how often."""
    with db_session() as session:
        repeats = rejection_repeats(session, scope, alert_id)
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
