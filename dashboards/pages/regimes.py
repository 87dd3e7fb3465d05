"""Regimes: each threshold test with its legal status, obligation, sources and catch count."""

from __future__ import annotations

import json
from typing import Any

import dash
from dash import html

from dashboards.components.formatting import COMPARATORS, card, empty_state, format_flop, page_header, table
from tracker.store import queries
from tracker.web.auth import current_scope, db_session

dash.register_page(__name__, path="/regimes", name="Regimes", title="Regimes · Compute threshold tracker",
                   order=4)


def _threshold(r: dict[str, Any]) -> str:
    if r["threshold"] is None:
        return "—"
    value = format_flop(r["threshold"], unit="") if "flop" in r["metric"] else f"{r['threshold']:g}"
    return f"{COMPARATORS.get(r['comparator'], r['comparator'])} {value.strip()} ({r['metric']})"


def layout(**_: Any) -> html.Div:
    scope = current_scope()
    with db_session() as session:
        regimes = queries.list_regimes_with_counts(session, scope)
    if not regimes:
        return html.Div([page_header("Regimes"), empty_state(
            "No regimes are loaded.", "Load data/regimes.yaml with `tracker evaluate`, which syncs the regimes.")])
    rows = [[html.Details([html.Summary(html.Code(r["id"])), html.Pre(json.dumps(r["definition"], indent=2,
                                                                                   default=str))]),
             r["jurisdiction"], r["instrument"], _threshold(r), r["state"],
             "; ".join(f"{k}: {v}" for k, v in r["dates"].items()) or "—",
             r["obligation"] or "—", r["deadline"] or "—",
             ", ".join(str(s) for s in r["sources"]) or "—",
             html.Span(f"{r['above']} above · {r['likely_above']} likely · {r['projected']} projected",
                       className="catch")] for r in regimes]
    return html.Div([
        page_header("Regimes", "Each compute-threshold test the tracker evaluates, and how many systems "
                               "it currently catches. Not legal advice."),
        card(None, table(["Regime", "Jurisdiction", "Instrument", "Threshold", "State", "Dates", "Obligation",
                          "Deadline", "Sources", "Catches"], rows, table_id="regimes-table")),
    ])
