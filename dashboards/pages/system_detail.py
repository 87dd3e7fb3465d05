"""One system: lineage, every method's estimate, filed inputs, flag timeline, obligations, alerts."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import dash
from dash import dcc, html

from dashboards.components import figures, inputs
from dashboards.components.formatting import (
    card,
    empty_state,
    error_message,
    format_date,
    format_flop,
    format_interval,
    link,
    page_header,
    status_badge,
    system_label,
    table,
    when,
)
from tracker.store import queries
from tracker.units import format_metric, format_number
from tracker.web.auth import current_scope, read_session

dash.register_page(__name__, path_template="/systems/<system_id>", name="System",
                   title="System · Compute threshold tracker")

NOT_VISIBLE = "There is no system with this id that your account can see."


def layout(system_id: str | None = None, **_: Any) -> html.Div:
    scope = current_scope()
    try:
        sid = inputs.record_id(system_id, "system_id")
    except inputs.BadInput:
        return html.Div([page_header("System"), error_message("That is not a system id. Open a system "
                                                                  "from the Systems page.")])
    with read_session() as session:
        detail = queries.system_detail(session, scope, sid)
    if detail is None:
        # The same words whether the system does not exist or belongs to another provider.
        return html.Div([page_header("System"), error_message(NOT_VISIBLE), link("Back to systems", "/systems")])
    s = detail["system"]
    return html.Div([
        page_header(system_label(s["name"], s["version"]),
                    f"{s['provider_name']} ({s['provider']}) · published {when(s['publication_date'])}"),
        html.Div([_estimates(detail), _lineage(detail, s)], className="grid-2"),
        _obligations(detail["flags"]),
        html.Div([_timeline(detail["flag_history"]), _alerts(detail["alerts"])], className="grid-2"),
        _inputs(detail["runs"], detail["inference_usage"]),
    ], id="system-detail")


def _estimates(detail: dict[str, Any]) -> html.Section:
    estimates = detail["estimates"]
    if not estimates:
        return card("Estimates", empty_state("No estimate yet.", "File training runs for this system; "
                                             "the evaluator estimates it on the next run."))
    # One row per figure; the usage periods are listed under "Filed inputs", the latest stands here.
    shown = [e for e in estimates if e["kind"] != "inference_period"]
    latest_usage = detail.get("latest_inference")
    if latest_usage and not any(e["kind"] == "inference_30d" and e["central"] is not None for e in shown):
        shown.append({"kind": "inference_latest_period", "methods": [], "confidence": None, **latest_usage})
    rows = [[_kind_label(e), _figure(format_flop(e["central"])), _figure(format_interval(e["low"], e["high"])),
             ", ".join(e["methods"]) or "—", e["confidence"] or "—"] for e in shown]
    training = next((e for e in estimates if e["kind"] == "training" and e["central"] is not None), None)
    planned_only = training is None
    if planned_only:  # only planned or in-progress runs: their projected figure is the one to read
        training = next((e for e in estimates if e["kind"] == "projected"), None)
    parts: list[Any] = [table(["Estimate", "Central", "90% interval", "Methods", "Confidence"], rows,
                              table_id="estimates-table"), _kind_notes(shown)]
    if training and training["per_method"]:
        centrals = [m["central"] for m in training["per_method"] if m["central"]]
        spread = max(centrals) / min(centrals) if len(centrals) > 1 else 1.0
        parts += [
            html.H3("Projected training compute by method" if planned_only else "Training compute by method"),
            html.P(f"The methods differ by a factor of {spread:.1f} between the lowest and highest central "
                   "estimate." if spread > 1.0 else "One method contributed.",
                   className="warn-text" if spread > 2 else "muted", id="method-spread"),
            dcc.Graph(figure=figures.method_comparison(training["per_method"], training),
                      config={"displaylogo": False}),
            table(["Method", "Central", "90% interval"],
                  [[m["method"], _figure(format_flop(m["central"])), _figure(format_interval(m["low"], m["high"]))]
                   for m in training["per_method"]], table_id="method-table"),
        ]
    return card("Estimates", *parts)


def _figure(text: str) -> html.Span:
    """A figure kept on one line at any width (the theme's ``.figure``: ``3.8 × 10²⁵ FLOP`` must not
    break at its spaces)."""
    return html.Span(text, className="figure")


_KIND_LABELS = {
    "training": "training",
    "modification": "own compute",
    "projected": "projected",
    "inference_30d": "inference, 30 days",
}
_KIND_NOTES = {
    "training": "training: cumulative over the lineage, completed runs",
    "modification": "own compute: this provider's runs only",
    "projected": "projected: planned and in-progress runs counted too",
}


def _kind_label(estimate: dict[str, Any]) -> str:
    if estimate["kind"] == "inference_latest_period":
        return f"inference, period ending {format_date(estimate.get('period_end'))}"
    return _KIND_LABELS.get(estimate["kind"], estimate["kind"])


def _kind_notes(shown: list[dict[str, Any]]) -> html.P:
    notes = [_KIND_NOTES[e["kind"]] for e in shown if e["kind"] in _KIND_NOTES]
    if any(e["kind"] == "inference_latest_period" for e in shown):
        notes.append("no usage period ended in the last 30 days: the latest on file is shown")
    return html.P("; ".join(notes) + ".", className="muted", id="estimate-notes")


def _lineage(detail: dict[str, Any], s: dict[str, Any]) -> html.Section:
    lineage = detail["lineage"]
    training = next((e for e in detail["estimates"] if e["kind"] == "training"), None)
    projected = next((e for e in detail["estimates"] if e["kind"] == "projected"), None)
    figure = (format_flop(training["central"]) + " cumulative" if training and training["central"] is not None
              else format_flop(projected["central"]) + " cumulative (projected)" if projected
              else format_flop(None) + " cumulative")

    def item(entry: dict[str, Any], tag: str) -> html.Li:
        label = system_label(entry["name"], entry.get("version"))
        name: Any = link(label, f"/systems/{entry['id']}") if entry.get("visible", True) and entry.get("id") \
            else html.Em(label)
        return html.Li([html.Span(tag, className="muted"), " ", name, " · ",
                        format_flop(entry.get("training_flop")) + " cumulative"])

    chain = [item(a, "based on") for a in reversed(lineage["ancestors"])]
    chain.append(html.Li([html.Strong(system_label(s["name"], s["version"])), " · ", figure],
                         className="current"))
    chain += [item(d, "derived:") for d in lineage["derived"]]
    note = None if lineage["ancestors"] or lineage["derived"] else html.P(
        "No base or derived system is on file.", className="muted")
    return card("Lineage", html.Ol(chain, className="lineage"), note)


def _obligations(flags: list[dict[str, Any]]) -> html.Section:
    if not flags:
        return card("Flags and obligations", empty_state("Not evaluated under any regime yet.",
                                                         "Run `tracker evaluate` or wait for the scheduler."))
    today = date.today()
    rows = []
    for f in flags:
        deadline = f["deadline"]
        overdue = deadline is not None and deadline < today and f["notified_at"] is None \
            and f["status"] in queries.CROSSING
        rows.append([link(f.get("regime_name") or f["regime_id"], "/regimes"),
                     html.Span([status_badge(f["status"], f["projected"]), *_conditional_note(f)]),
                     _figure(format_metric(f["value_central"], f.get("metric"))),
                     _figure(format_metric(f["threshold"], f.get("metric"))),
                     f["obligation"] or "—", when(f.get("crossed_on")),
                     html.Span(when(deadline) + (" (overdue)" if overdue else ""),
                               className="danger-text" if overdue else ""),
                     when(f["notified_at"]), (None if f.get("masked") else f.get("tier")) or "—"])
    return card("Flags and obligations", table(
        ["Regime", "Status", "Value", "Threshold", "Obligation", "Crossed (projected: expected)", "Deadline",
         "Notified", "Tier"], rows,
        table_id="flags-table"))


def _conditional_note(flag: dict[str, Any]) -> list[Any]:
    """A crossing that still needs conditions compute does not settle: which ones (the provider
    settles them by filing kind system_conditions)."""
    if not flag.get("conditional") or flag.get("masked"):  # a masked flag's crossing is not to be told
        return []
    try:
        open_conditions = json.loads(flag.get("unheld_conditions") or "[]")
    except ValueError:
        open_conditions = []
    return [html.Div("conditional: " + "; ".join(str(c) for c in open_conditions), className="muted conditional")]


def _timeline(events: list[dict[str, Any]]) -> html.Section:
    if not events:
        return card("Flag history", empty_state("No status change recorded yet."))
    return card("Flag history", html.Ol([_event_item(e) for e in events], className="timeline"))


def _event_item(event: dict[str, Any]) -> html.Li:
    """One status change: its regime by name (an event of no regime is the first evaluation, over
    all regimes), and the value in the regime's unit: a modification's share of its base is a
    ratio, not FLOP."""
    regime = event.get("regime_name") or event.get("regime_id")
    first = event.get("kind") == "first_evaluated" or not event["old_status"]
    value = event.get("value_central")
    return html.Li([
        html.Time(when(event["changed_on"])), " ",
        html.Span(regime, title=event["regime_id"]) if regime else html.Span("all regimes (highest status)"), ": ",
        status_badge(event["old_status"]) if not first else html.Span("first evaluated"), " → ",
        status_badge(event["new_status"], event["new_projected"]),
        *([" at ", _figure(format_metric(value, event.get("metric")))]
          if value is not None else []),
    ])


def _alerts(alerts: list[dict[str, Any]]) -> html.Section:
    if not alerts:
        return card("Alerts", empty_state("No alert about this system."))
    return card("Alerts", table(["Raised", "Kind", "Regime", "Acknowledged"], [
        [when(a["created_at"]), a["kind"], a.get("regime_name") or a["regime_id"] or "—",
         f"{when(a['acknowledged_at'])} by {a['acknowledged_by']}" if a["acknowledged_at"]
         else link("open: acknowledge", f"/alerts/{a['id']}")] for a in alerts]))


def _inputs(runs: list[dict[str, Any]], usage: list[dict[str, Any]]) -> html.Section:
    if not runs and not usage:
        return card("Filed inputs", empty_state("Nothing filed for this system.",
                                                "Providers file training runs from the portal or the API."))
    parts: list[Any] = []
    if runs:
        parts.append(table(
            ["Run", "Stage", "Status", "Accelerator", "Chips", "Hours", "Parameters", "Tokens", "Reported",
             "Filing", "Current"],
            [[r["run_id"], r["stage"], r["status"], r["accelerator"] or "—", _num(r["accelerator_count"]),
              _num(r["training_hours"] or r["chip_hours"]), _num(r["parameters"]), _num(r["training_tokens"]),
              format_flop(r["reported_flop"]), link(r["accession"], f"/filings/{r['accession']}"),
              "yes" if r["is_current"] else "superseded"] for r in runs], table_id="runs-table"))
    if usage:
        parts.append(html.H3("Inference usage"))
        parts.append(table(["Period", "Input tokens", "Output tokens", "Accelerator hours", "Filing"],
                           [[f"{when(u['period_start'])} – {when(u['period_end'])}", _num(u["input_tokens"]),
                             _num(u["output_tokens"]), _num(u["accelerator_hours"]),
                             link(u["accession"], f"/filings/{u['accession']}")] for u in usage]))
    return card("Filed inputs", *parts)


def _num(value: float | None) -> str:
    if value is None:
        return "—"
    return format_number(value)
