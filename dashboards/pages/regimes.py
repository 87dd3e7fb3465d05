"""Regimes: each threshold test by name, in words: legal force, threshold, obligation and deadline,
how many systems it catches, and (on expanding) every field of its definition with linked sources.

The table has five columns so that it fits a 1,024 px window; the long texts (instrument,
conditions, counting rules, consequences) are in each regime's details. A regime the tracker cannot
assess (its metric needs data the tracker does not hold) says so from its definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash
from dash import html

from dashboards.components import regime_text
from dashboards.components.formatting import card, empty_state, page_header, table
from tracker.store import queries
from tracker.web.auth import current_scope, read_session

dash.register_page(__name__, path="/regimes", name="Regimes", title="Regimes · Compute threshold tracker",
                   order=4)


def _definition(r: Mapping[str, Any]) -> Mapping[str, Any]:
    definition = r.get("definition")
    return definition if isinstance(definition, Mapping) else {}


def _events(r: Mapping[str, Any]) -> Mapping[str, Any]:
    status = _definition(r).get("status")
    return status if isinstance(status, Mapping) else {}


def _deadline(r: Mapping[str, Any]) -> str:
    of = "crossing" if r.get("unknown_reason") is None else "the triggering event"
    return regime_text.deadline_text(r.get("deadline"), r.get("deadline_calendar"), of=of)


def sources_view(r: Mapping[str, Any]) -> Any:
    links = r.get("source_links") or []
    if not links:
        return "—"
    items: list[Any] = []
    for n, link in enumerate(links):
        if n:
            items.append(", ")
        items.append(html.A(link["key"], href=link["url"], target="_blank", rel="noopener noreferrer",
                            className="source-link") if link["url"]
                     else html.Span(link["key"], title="no web address recorded for this source"))
    return html.Span(items)


def _text_list(values: Any) -> Any:
    if isinstance(values, list | tuple):
        return html.Ul([html.Li(str(v)) for v in values]) if values else "—"
    return str(values) if values not in (None, "") else "—"


def _counting(rules: Any) -> Any:
    if not isinstance(rules, Mapping) or not rules:
        return None
    return html.Div([html.Div([html.Strong(f"{regime_text.words(k)}: "), _text_list(v)]) for k, v in rules.items()])


def _obligations(details: Any, calendar: str | None) -> Any:
    if not isinstance(details, list) or not details:
        return None
    return html.Ul([html.Li(f"{d.get('what')}: {regime_text.deadline_text(d.get('deadline'), calendar)}"
                            + (f" (from {d['anchor']})" if d.get("anchor") else ""))
                    for d in details if isinstance(d, Mapping)])


def details_view(r: Mapping[str, Any]) -> html.Details:
    """Every field of the definition a person needs, labelled, in the order one reads a law."""
    d = _definition(r)
    fields: list[tuple[str, Any]] = [
        ("Id", html.Code(r["id"])),
        ("Instrument", r.get("instrument") or "—"),
        ("Jurisdiction", r.get("jurisdiction") or "—"),
        ("Applies to", d.get("subject") or "—"),
        ("Legal force", f"{regime_text.legal_force(r.get('state'), _events(r))} · "
                        f"{regime_text.state_label(r.get('state'))}"),
        *[(label, value) for label, value in regime_text.dated_events(_events(r))],
        ("Threshold", regime_text.threshold_text(r["metric"], r["comparator"], r.get("threshold"))),
        ("Threshold as written", d.get("threshold_expression")),
        ("Unit in the instrument", d.get("unit")),
        ("Also required", _text_list(d.get("conditions")) if d.get("conditions") else None),
        ("Counting rules", _counting(d.get("counting_rules"))),
        ("Obligation", regime_text.words(r.get("obligation"))),
        ("Addressee", r.get("addressee")),
        ("Deadline", _deadline(r)),
        ("Deadline in the instrument's words", d.get("deadline_text")),
        ("Clock starts", d.get("deadline_anchor")),
        ("Obligations and clocks", _obligations(d.get("obligations_detail"), r.get("deadline_calendar"))),
        ("Consequences", d.get("consequences")),
        ("Penalties", d.get("penalties")),
        ("Notes", d.get("notes")),
        ("Sources", sources_view(r)),
        ("Check before relying", "Rests on secondary or conflicting sources: check the primary text."
         if d.get("verify") else None),
    ]
    rows = [[label, value] for label, value in fields if value not in (None, "", [])]
    return html.Details([html.Summary(f"Details of {r['name']}"),
                         table(["Field", "Value"], rows, class_name="kv regime-fields")],
                        className="regime-details", id=f"regime-details-{r['id']}")


def _catches(r: Mapping[str, Any]) -> Any:
    if r.get("unknown_reason"):
        return html.Span(f"Not assessable by the tracker: {r['unknown_reason']}", className="muted not-assessable")
    return html.Span([html.Strong(f"{r['catches']:,}"), f" caught ({r['above']:,} above, "
                      f"{r['likely_above']:,} likely above) · {r['projected']:,} projected"], className="catch")


def _force(r: Mapping[str, Any]) -> html.Div:
    force, state = regime_text.legal_force(r.get("state"), _events(r)), regime_text.state_label(r.get("state"))
    return html.Div([html.Div(force), html.Div(state, className="muted") if state != force else None])


def regime_row(r: Mapping[str, Any]) -> list[Any]:
    return [
        html.Div([html.Div(html.Strong(r["name"]), className="regime-name"),
                  html.Div([r.get("jurisdiction") or "", " · ", sources_view(r)], className="muted")]),
        regime_text.threshold_text(r["metric"], r["comparator"], r.get("threshold")),
        _force(r),
        html.Div([html.Div(regime_text.words(r.get("obligation"))), html.Div(_deadline(r), className="muted")]),
        _catches(r),
    ]


HEADERS = ["Regime", "Threshold", "Legal force", "Obligation", "Catches"]
JOINED = {"borderBottom": "0", "paddingBottom": "4px"}  # a regime's row and its details read as one


def _table(regimes: list[dict[str, Any]]) -> html.Table:
    """One row per regime, and under it a row the width of the table for its details, so an opened
    definition reads at full width instead of inside the first column."""
    body: list[Any] = []
    for r in regimes:
        body.append(html.Tr([html.Td(cell, style=JOINED) for cell in regime_row(r)], className="regime-row"))
        body.append(html.Tr(html.Td(details_view(r), colSpan=len(HEADERS), style={"paddingTop": "0"}),
                            className="regime-details-row"))
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in HEADERS])), html.Tbody(body)],
                      className="table regimes", id="regimes-table")


def layout(**_: Any) -> html.Div:
    scope = current_scope()
    with read_session() as session:
        regimes = queries.list_regimes_with_counts(session, scope)
    if not regimes:
        return html.Div([page_header("Regimes"), empty_state(
            "No regimes are loaded.", "Load data/regimes.yaml with `tracker evaluate`, which syncs the regimes.")])
    return html.Div([
        page_header("Regimes", "Each compute-threshold test the tracker evaluates, and how many systems "
                               "it currently catches. Open a regime's details for every field and its sources. "
                               "Not legal advice."),
        card(None, _table(regimes)),
    ])
