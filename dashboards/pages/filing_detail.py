"""One filing: its receipt, error report and the chain of amendments around it."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

from dashboards.components.filings import errors_view, receipt_view
from dashboards.components.formatting import card, error_message, link, page_header
from tracker.store import queries
from tracker.web.auth import current_scope, db_session

dash.register_page(__name__, path_template="/filings/<accession>", name="Filing",
                   title="Filing · Compute threshold tracker")

NOT_VISIBLE = "There is no filing with this accession number that your account can see."


def layout(accession: str | None = None, **_: Any) -> html.Div:
    scope = current_scope()
    with db_session() as session:
        filing = queries.filing_detail(session, scope, accession or "")
    if filing is None:
        return html.Div([page_header("Filing"), error_message(NOT_VISIBLE), link("All filings", "/filings")])
    chain: list[Any] = []
    if filing["amends"]:
        chain.append(html.P(["Amends: ", *_links(filing["amends"])]))
    if filing["amended_by"]:
        chain.append(html.P(["Amended by: ", *_links(filing["amended_by"])]))
    return html.Div([
        page_header(f"Filing {filing['accession']}", f"{filing['kind']} from {filing['provider']}"),
        receipt_view(filing) if filing["status"] != "rejected" else errors_view(filing["errors"]),
        card("Amendments", *(chain or [html.P("No earlier or later filing changed these records.",
                                                className="muted")])),
    ])


def _links(accessions: list[str]) -> list[Any]:
    out: list[Any] = []
    for i, acc in enumerate(accessions):
        out += ([", "] if i else []) + [link(acc, f"/filings/{acc}")]
    return out
