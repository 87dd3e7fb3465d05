"""Overview: headline counts, training compute against thresholds, inference over time."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboards.components import cache, figures, inputs
from dashboards.components.formatting import STATUS_LABELS, card, empty_state, page_header, stat
from tracker.store import queries
from tracker.web.auth import current_scope, db_session, settings

dash.register_page(__name__, path="/", name="Overview", title="Overview · Compute threshold tracker", order=0)

TOP_N = 500


def layout(**_: Any) -> html.Div:
    scope = current_scope()
    with db_session() as session:
        providers = queries.list_providers(session, scope)
        regimes = queries.threshold_lines(session, scope)
    return html.Div([
        page_header("Overview", "Systems tracked, threshold crossings and notification deadlines."),
        html.Div([
            dcc.Dropdown(id="ov-regime", placeholder="All regimes", clearable=True,
                         options=[{"label": r["id"], "value": r["id"]} for r in regimes]),
            dcc.Dropdown(id="ov-provider", placeholder="All providers", multi=True,
                         options=[{"label": p["slug"], "value": p["id"]} for p in providers]),
            dcc.Dropdown(id="ov-status", placeholder="Any status", multi=True,
                         options=[{"label": v, "value": k} for k, v in STATUS_LABELS.items()]),
            dcc.DatePickerRange(id="ov-dates", start_date_placeholder_text="From",
                                end_date_placeholder_text="To", clearable=True),
        ], className="filters"),
        dcc.Loading(html.Div(id="ov-stats", className="stats"), type="circle", delay_show=250),
        card("Training compute against thresholds",
             html.P(id="ov-sample-note", className="muted"),
             dcc.Loading(dcc.Graph(id="ov-scatter", config={"displaylogo": False}), type="circle")),
        card("Inference compute over time",
             dcc.Loading(html.Div(id="ov-inference"), type="circle")),
    ])


def _counts(regime_id: str | None, provider_ids: tuple[int, ...]) -> dict[str, Any]:
    scope = current_scope()
    key = ("overview_counts", settings().database_url, cache.scope_key(scope), regime_id, provider_ids,
           date.today())

    def compute() -> dict[str, Any]:
        with db_session() as session:
            return queries.overview_counts(session, scope, provider_ids=list(provider_ids), regime_id=regime_id)

    return cache.cached(key, compute)


def _stats(counts: dict[str, Any]) -> list[Any]:
    tiles = [stat("systems tracked", counts["systems"], test_id="stat-systems")]
    for r in counts["per_regime"]:
        tiles.append(stat(f"{r['regime_id']}: above / likely above",
                          f"{r['above']} / {r['likely_above']}", tone="warn"))
    tiles += [
        stat("projected crossings", counts["projected_crossings"], tone="info"),
        stat("overdue notifications", counts["overdue_notifications"],
             tone="danger" if counts["overdue_notifications"] else "", test_id="stat-overdue"),
        stat("open alerts", counts["open_alerts"], tone="warn" if counts["open_alerts"] else "",
             test_id="stat-open-alerts"),
    ]
    return tiles


@callback(
    Output("ov-stats", "children"), Output("ov-scatter", "figure"), Output("ov-sample-note", "children"),
    Output("ov-inference", "children"),
    Input("ov-regime", "value"), Input("ov-provider", "value"), Input("ov-status", "value"),
    Input("ov-dates", "start_date"), Input("ov-dates", "end_date"),
)
def refresh(regime_id: str | None, provider_ids: list[int] | None, statuses: list[str] | None,
            start: str | None, end: str | None) -> tuple[Any, ...]:
    scope = current_scope()  # from the session, never from the inputs above
    providers = inputs.id_list(provider_ids, "ov-provider")
    regime_id = inputs.optional_text(regime_id, "ov-regime", max_chars=80)
    filters = queries.ScatterFilters(
        regime_id=regime_id, provider_ids=providers, statuses=inputs.text_list(statuses, "ov-status"),
        date_from=inputs.iso_date(start, "ov-dates.start_date"), date_to=inputs.iso_date(end, "ov-dates.end_date"))
    # Shared by every viewer with the same visibility and filters for the cache's 30 seconds: with
    # 100,000 systems these three queries cost about half a second together.
    key = ("overview_figures", settings().database_url, cache.scope_key(scope), filters)

    def compute() -> tuple[Any, Any, Any]:
        with db_session() as session:
            return (queries.compute_scatter_points(session, scope, filters, top_n=TOP_N),
                    queries.threshold_lines(session, scope, regime_id=regime_id or None),
                    queries.inference_series(session, scope, provider_ids=list(providers)))

    scatter, lines, inference = cache.cached(key, compute)
    if scatter["matching"] == 0:
        note = "No system with a training estimate matches these filters. Clear a filter, or file training runs."
    elif scatter["sampled"]:
        note = (f"Showing {scatter['shown']:,} of {scatter['matching']:,} systems: every system above or likely "
                f"above a threshold, plus the {TOP_N} largest by training compute.")
    else:
        note = f"Showing all {scatter['matching']:,} systems. Error bars are 90% intervals."
    inference_view: Any = (
        dcc.Graph(figure=figures.inference_lines(inference["series"]), config={"displaylogo": False})
        if inference["series"] else
        empty_state("No inference usage has been filed yet.",
                    "Providers file inference_usage disclosures; estimates appear here after evaluation."))
    return (_stats(_counts(regime_id or None, providers)), figures.compute_scatter(scatter["points"], lines),
            note, inference_view)
