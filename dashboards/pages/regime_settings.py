"""Regime thresholds: the numbers the regulator sets where a regime's text publishes none
(administrators only; the callback checks the caller again on the server, every time)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards.components.formatting import card, empty_state, error_message, page_header, table, when
from tracker.regimes.settings import SETTABLE_METRICS, SettingError, record_setting, settable_ids, stored_settings
from tracker.store.queries.regime_labels import regime_name
from tracker.units import format_metric
from tracker.web.auth import current_scope, db_session, settings

dash.register_page(__name__, path="/regime-thresholds", name="Regime thresholds",
                   title="Regime thresholds · Compute threshold tracker", order=7)
ADMIN_ONLY = "This page is for administrator accounts."


def _regimes() -> list[Any]:
    from tracker.registry.pipeline import default_regimes

    return default_regimes(settings())


def _names() -> dict[str, str]:
    """The settable regimes by name (the id stays the dropdown's value, as the engine reads it)."""
    regimes = _regimes()
    by_id = {r.id: r for r in regimes}
    return {rid: regime_name(rid, by_id[rid].jurisdiction, by_id[rid].instrument) for rid in settable_ids(regimes)}


def _setting_text(regime_id: str, metric: str, threshold: float) -> str:
    """"China TC260 framework: registration: training compute, cumulative over the lineage (FLOP)
    ≥ 1.0 × 10²⁵ FLOP": the regime by name, the metric in words, the threshold in the metric's unit."""
    words = SETTABLE_METRICS.get(metric, metric)
    return f"{_names().get(regime_id, regime_id)}: {words} ≥ {format_metric(threshold, metric)}"


def layout(**_: Any) -> html.Div:
    scope = current_scope()
    if scope.role != "admin":
        return html.Div([page_header("Regime thresholds"), error_message(ADMIN_ONLY)])
    names = _names()
    ids = list(names)
    return html.Div([
        page_header("Regime thresholds",
                    "Where a regime's text names no number (TC260: \"computing and reasoning capacities reach a "
                    "certain threshold\"), the regulator sets it here, with a reason. The next evaluation uses "
                    "the newest setting; every setting is kept and audited."),
        card("Set a threshold", html.Div([
            dcc.Dropdown(id="rs-regime", options=[{"label": name, "value": rid} for rid, name in names.items()],
                         value=ids[0] if ids else None, clearable=False),
            dcc.Dropdown(id="rs-metric", options=[{"label": text.capitalize(), "value": name}
                                                  for name, text in SETTABLE_METRICS.items()],
                         value="training_flop_cumulative", clearable=False),
            dcc.Input(id="rs-threshold", placeholder="FLOP, e.g. 1e25, 10^25 or 1 × 10²⁵", debounce=False),
            dcc.Textarea(id="rs-reason", placeholder="reason (required; kept with the setting)"),
            html.Button("Set threshold", id="rs-submit", className="button primary"),
        ], className="inline-form"), html.Div(id="rs-result", role="status")),
        card("History", html.Div(_history(), id="rs-history")),
    ])


def _history() -> Any:
    with db_session() as session:
        rows = stored_settings(session)
    if not rows:
        return empty_state("No threshold has been set.", "Until one is, such a regime's flags are Unknown.")
    seen: set[str] = set()
    names = _names()
    body = []
    for s in rows:
        state = "in force" if s.regime_id not in seen else "replaced"
        seen.add(s.regime_id)
        body.append([names.get(s.regime_id, s.regime_id), SETTABLE_METRICS.get(s.metric, s.metric).capitalize(),
                     f"≥ {format_metric(s.threshold, s.metric)}", state, s.set_by, when(s.set_at), s.reason])
    return table(["Regime", "Metric", "Threshold", "State", "Set by", "Set at", "Reason"], body,
                 table_id="rs-history-table")


@callback(Output("rs-result", "children"), Output("rs-history", "children"), Input("rs-submit", "n_clicks"),
          State("rs-regime", "value"), State("rs-metric", "value"), State("rs-threshold", "value"),
          State("rs-reason", "value"), prevent_initial_call=True)
def set_threshold(_: int | None, regime_id: Any, metric: Any, threshold: Any, reason: Any) -> tuple[Any, Any]:
    scope = current_scope()  # a callback is a public endpoint: the role is checked here, not only in the layout
    if scope.role != "admin":
        return error_message(ADMIN_ONLY), no_update
    # Forged requests may send any JSON: only text is read.
    texts = [value if isinstance(value, str) else "" for value in (regime_id, metric, threshold, reason)]
    try:
        with db_session() as session:
            setting = record_setting(session, _regimes(), regime_id=texts[0], metric=texts[1], threshold=texts[2],
                                     reason=texts[3], set_by=scope.actor, actor=scope.actor)
    except SettingError as exc:
        return error_message(str(exc)), no_update
    return (html.Div(f"{_setting_text(setting.regime_id, setting.metric, setting.threshold)}, set by "
                     f"{setting.set_by}. The next evaluation uses it.", className="notice", id="rs-done"),
            _history())
