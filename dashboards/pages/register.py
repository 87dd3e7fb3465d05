"""The public register: registered systems, public fields only, for anyone, signed in or not.

This page and its one callback are the only dashboard parts an anonymous visitor reaches
(tracker.web.public lists them). Neither asks who is calling: everyone gets the same public
fields, read through the same projection as ``GET /api/v1/register``, whatever the inputs say.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import dash
from dash import Input, Output, callback, dcc, html

from dashboards.components.formatting import (
    card,
    empty_state,
    format_metric,
    page_header,
    system_label,
    table,
    when,
)
from tracker.api.register import MAX_SEARCH_CHARS, clean_search, public_rows
from tracker.web.auth import read_session

dash.register_page(__name__, path="/register", name="Public register",
                   title="Public register · Compute threshold tracker", order=8)

PAGE_ROWS = 50
MAX_PAGE = 2000  # PAGE_ROWS x MAX_PAGE rows are reachable from the page; the export pages further
API = "/api/v1/register"
CERTIFICATE_LABELS = {"valid": "valid", "revoked": "revoked", "superseded": "superseded"}


def layout(q: Any = None, **_: Any) -> html.Div:
    return html.Div([
        page_header("Public register",
                    "AI systems registered under a compute-threshold regime, with their registration "
                    "number and certificate. No sign-in needed. Compute figures, contacts and "
                    "arguments providers file are confidential and never shown here."),
        html.Div([
            dcc.Input(id="register-search", type="search", value=clean_search(q) or "", debounce=True,
                      maxLength=MAX_SEARCH_CHARS, placeholder="Search provider, system or registration number",
                      className="register-search"),
            html.Label(["Page ", dcc.Input(id="register-page", type="number", min=1, max=MAX_PAGE, step=1, value=1,
                                           debounce=True, className="page-input", placeholder="page")]),
            html.Div([html.A("CSV", id="register-csv", href=f"{API}.csv", className="button small"),
                      html.A("JSON", id="register-json", href=API, className="button small")],
                     className="actions"),
        ], className="filters"),
        dcc.Loading(html.Div(id="register-results"), type="circle", delay_show=250),
    ])


def _page_number(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return 1
    return min(max(number, 1), MAX_PAGE)


def _export_href(base: str, search: str | None) -> str:
    return f"{base}?{urlencode({'q': search})}" if search else base


def _certificate(row: dict[str, Any]) -> Any:
    status = row.get("certificate_status")
    url = row.get("certificate_url")
    if not status or not url:
        return "—"
    label = CERTIFICATE_LABELS.get(str(status), "unknown")
    return html.A(label, href=url, className=f"badge certificate-{label}", target="_blank", rel="noopener")


def _regime(row: dict[str, Any]) -> Any:
    name = row.get("regime_name")
    return html.Span([name or row.get("regime_id"), " ", html.Code(row.get("regime_id"))]) if name \
        else html.Code(row.get("regime_id"))


def results_view(rows: list[dict[str, Any]], page: int, more: bool, search: str | None) -> Any:
    if not rows:
        if search:
            return empty_state(f"No registered system matches “{search}”.",
                               "Search looks in the registration number, the provider and the system.")
        return empty_state("No system is registered yet." if page == 1 else "No more registrations.",
                           "A system appears here once the regulator registers it.")
    with_tier = any(row.get("tier") for row in rows)
    headers = ["Registration number", "Provider", "System", "Regime", "Threshold", *(["Tier"] if with_tier else []),
               "State", "Registered", "Certificate"]
    body = [[html.Code(row.get("registration_number") or "—"), row.get("provider"),
             system_label(row.get("system"), row.get("version")), _regime(row),
             format_metric(row.get("threshold"), row.get("metric")), *([row.get("tier") or "—"] if with_tier else []),
             html.Span(row.get("state"), className=f"badge registration-{row.get('state')}"),
             when(row.get("registered_at")), _certificate(row)] for row in rows]
    first = (page - 1) * PAGE_ROWS + 1
    title = f"Registered systems {first:,}–{first + len(rows) - 1:,}{' (more on the next page)' if more else ''}"
    return card(title, table(headers, body, table_id="register-table"))


@callback(Output("register-results", "children"), Output("register-csv", "href"), Output("register-json", "href"),
          Input("register-search", "value"), Input("register-page", "value"))
def refresh(search: Any, page: Any) -> tuple[Any, str, str]:
    # Anyone may call this, with anything: inputs are coerced and bounded, the scope is irrelevant
    # (public fields only for everyone) and no identifier from the request selects a row.
    text = clean_search(search)
    number = _page_number(page)
    with read_session() as session:
        rows = public_rows(session, search=text, limit=PAGE_ROWS + 1, offset=(number - 1) * PAGE_ROWS)
    more = len(rows) > PAGE_ROWS
    return (results_view(rows[:PAGE_ROWS], number, more, text), _export_href(f"{API}.csv", text),
            _export_href(API, text))
