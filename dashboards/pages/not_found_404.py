"""The page for a path no page serves (Dash shows the module named ``not_found_404``), inside the
app's shell like every page, with the way back."""

from __future__ import annotations

from typing import Any

import dash
from dash import html

from dashboards.components.formatting import card, link, page_header

dash.register_page(__name__, path="/404", name="Page not found", title="Page not found · Compute threshold tracker")


def layout(**_: Any) -> html.Div:
    return html.Div([
        page_header("Page not found", "There is no page at this address."),
        card(None, html.P(["Check the address, or go to the ", link("overview", "/"), "; the menu above lists "
                           "every page your account can open."]),
             html.P(link("Back to the overview", "/"), id="not-found-home")),
    ], id="not-found")
