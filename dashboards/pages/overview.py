"""Overview: headline counts, training compute against thresholds, inference over time."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboards.components import cache, figures, inputs
from dashboards.components.formatting import (
    STATUS_LABELS,
    card,
    empty_state,
    format_date,
    format_flop,
    format_number,
    page_header,
    stat,
    system_label,
    table,
)
from tracker.store import queries
from tracker.web.auth import current_scope, read_session, settings

dash.register_page(__name__, path="/", name="Overview", title="Overview · Compute threshold tracker", order=0)

TOP_N = 500


def layout(**_: Any) -> html.Div:
    scope = current_scope()
    with read_session() as session:
        providers = queries.list_providers(session, scope)
        regimes = queries.threshold_lines(session, scope)
    return html.Div([
        page_header("Overview", "Systems tracked, threshold crossings and notification deadlines."),
        html.Div([
            dcc.Dropdown(id="ov-regime", placeholder="All regimes", clearable=True,
                         options=[{"label": r["name"], "value": r["id"], "search": f"{r['name']} {r['id']}",
                                   "title": r["id"]} for r in regimes]),
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
        with read_session() as session:
            return queries.overview_counts(session, scope, provider_ids=list(provider_ids), regime_id=regime_id)

    return cache.cached(key, compute)


def _stats(counts: dict[str, Any]) -> list[Any]:
    tiles = [stat("systems tracked", counts["systems"], test_id="stat-systems")]
    tiles += [
        stat("projected crossings", counts["projected_crossings"], tone="info"),
        stat("overdue notifications", counts["overdue_notifications"],
             tone="danger" if counts["overdue_notifications"] else "", test_id="stat-overdue"),
        stat("open alerts", counts["open_alerts"], tone="warn" if counts["open_alerts"] else "",
             test_id="stat-open-alerts"),
    ]
    if counts["per_regime"]:
        # One row per regime, by name: as tiles, a dozen regimes' long names crowded out the totals.
        names = counts.get("regime_names", {})
        tiles.append(html.Div([html.Div("Crossings by regime", className="stat-label"), table(
            ["Regime", "Above", "Likely above", "Projected"],
            [[html.Span(names.get(r["regime_id"], r["regime_id"]), title=r["regime_id"]),
              format_number(r["above"]), format_number(r["likely_above"]), format_number(r["projected"])]
             for r in counts["per_regime"]], table_id="ov-regime-counts")], className="stat"))
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
        with read_session() as session:
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
    if scatter.get("projected_shown"):
        shown = scatter["projected_shown"]
        note += (f" Diamonds: {format_number(shown)} projected figure{'s' if shown != 1 else ''} (planned or "
                 "in-progress compute).")
    inference_view: Any = (
        html.Div([html.P(_inference_note(inference), id="ov-inference-note", className="muted"),
                  dcc.Graph(id="ov-inference-graph", figure=figures.inference_lines(inference["series"]),
                            config={"displaylogo": False})])
        if inference["series"] else
        empty_state("No inference usage has been filed yet.",
                    "Providers file inference_usage disclosures; estimates appear here after evaluation."))
    regime_name = next((r.get("name") for r in lines if r["id"] == regime_id), regime_id) if regime_id else None
    return (_stats(_counts(regime_id or None, providers)),
            figures.compute_scatter(scatter["points"], lines, regime_name), note, inference_view)


def _inference_note(inference: dict[str, Any]) -> str:
    """The latest filed period's figure with its date, and how old it is when no period ended within
    the last 30 days (the 30-day figures are then empty, though usage was filed)."""
    latest = inference.get("latest")
    if latest is None:
        return ""
    ending = [(p["central"], s) for s in inference["series"] for p in s["points"] if p["at"] == latest]
    central, largest = max(ending, key=lambda pair: pair[0])
    who = f"{largest['provider']}/{system_label(largest['name'], largest['version'])}"
    others = f", the largest of {len(ending)} systems" if len(ending) > 1 else ""
    figure = f"{format_flop(central)} ({who}{others}) in the period ending {format_date(latest)}"
    if inference.get("recent"):
        return f"Each filed usage period at its end date. Latest: {figure}."
    months = inference.get("latest_age_months") or 0
    age = "less than a month old" if months == 0 else f"{months} month{'s' if months != 1 else ''} old"
    return (f"Latest usage: {figure}, {age}. No usage period ended in the last 30 days, so the current "
            "30-day figures are empty; the chart shows the periods on file.")
