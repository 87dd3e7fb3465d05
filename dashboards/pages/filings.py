"""Filings: every disclosure with its receipt, status and error count (newest first)."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboards.components import inputs
from dashboards.components.formatting import card, empty_state, error_message, link, page_header, table, when
from tracker.store import queries
from tracker.web.auth import current_scope, db_session

dash.register_page(__name__, path="/filings", name="Filings", title="Filings · Compute threshold tracker",
                   order=3)
PAGE_ROWS = 100
NOWRAP = {"whiteSpace": "nowrap"}  # a date on one line, not four


def layout(**_: Any) -> html.Div:
    current_scope()
    return html.Div([
        page_header("Filings", "Every disclosure received, accepted or rejected. Open one for its receipt, "
                               "error report and amendments."),
        html.Div([dcc.RadioItems(id="filings-status", value="", inline=True, className="radio",
                                 options=[{"label": "All", "value": ""}, {"label": "Accepted", "value": "accepted"},
                                          {"label": "Rejected", "value": "rejected"}]),
                  # A visible label tied to the box: screen readers announce "Page", not an unnamed spin button.
                  html.Div([html.Label("Page", htmlFor="filings-page", id="filings-page-label",
                                       style={"marginRight": "8px"}),
                            dcc.Input(id="filings-page", type="number", min=1, value=1, debounce=True,
                                      className="page-input")], className="pager"),
                  ], className="filters"),
        dcc.Loading(html.Div(id="filings-table"), type="circle", delay_show=250),
    ])


FILING_STATUSES = ("accepted", "rejected")


@callback(Output("filings-table", "children"), Input("filings-status", "value"), Input("filings-page", "value"))
def refresh(status: str | None, page: int | None) -> Any:
    scope = current_scope()
    try:  # typed by a person into the page box: said on the page, not as an error response
        page = inputs.page_number(page, "filings-page")
    except inputs.BadInput:
        return error_message(f"That is not a page number; expected a whole number from 1 to {inputs.MAX_PAGE:,}.")
    status = inputs.choice(status, "filings-status", FILING_STATUSES)
    with db_session() as session:
        rows, total = queries.list_filings(session, scope, status=status or None, limit=PAGE_ROWS,
                                           offset=(page - 1) * PAGE_ROWS)
    if not rows:
        return empty_state("No filings match.", "Providers file from the portal, the API, the inbox folder or "
                                                "`tracker ingest`.")
    pages = max((total + PAGE_ROWS - 1) // PAGE_ROWS, 1)
    return card(f"{total:,} filings · page {page} of {pages}", table(
        ["Accession", "Filed", "Provider", "Kind", "Status", "Records", "Superseded", "Errors", "Channel", "By"],
        [[link(f["accession"], f"/filings/{f['accession']}"), html.Span(when(f["filed_at"]), style=NOWRAP),
          f["provider"], f["kind"],
          html.Span(f["status"], className=f"badge filing-{f['status']}"), f["record_count"],
          f["superseded_count"], f["error_count"] or "—", f["channel"], f["filed_by"]] for f in rows],
        table_id="filings"))
