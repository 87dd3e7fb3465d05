"""What a receipt and an error report say: when the estimates appear, and the catalog as a link."""

from __future__ import annotations

from typing import Any

import pytest
from dash import html

from dashboards.components.filings import CATALOG_PATH, errors_view, estimates_when, receipt_view


def _texts(component: Any) -> list[str]:
    """Every string inside a Dash component tree, in order."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, list | tuple):
        return [t for child in component for t in _texts(child)]
    children = getattr(component, "children", None)
    return _texts(children) if children is not None else []


def _links(component: Any) -> list[html.A]:
    if isinstance(component, list | tuple):
        return [a for child in component for a in _links(child)]
    found = [component] if isinstance(component, html.A) else []
    children = getattr(component, "children", None)
    return found + (_links(children) if children is not None else [])


@pytest.mark.parametrize(("state", "text"), [
    ({"state": "queued", "expected_within_s": 10}, "they appear within about 10 seconds."),
    ({"state": "running", "expected_within_s": 10}, "they appear within about 10 seconds."),
    ({"state": "nightly", "expected_by": "2026-12-05T02:00:00+00:00"},
     "appear after the nightly evaluation (2026-12-05 02:00 UTC)."),  # never the ISO timestamp
    ({"state": "done"}, "Estimates updated: they include this filing."),
    ({"state": "not_needed"}, "A rejected filing changes no estimate."),
])
def test_the_receipt_says_when_the_estimates_appear(state: dict[str, Any], text: str) -> None:
    assert estimates_when(state).endswith(text)
    receipt = receipt_view({"accession": "T-000001", "status": "accepted", "evaluation": state})
    # The last row: its label, then the sentence (a date in it is kept on one line, in a span).
    assert "".join(_texts(receipt)).endswith("Estimates" + estimates_when(state))


def test_a_receipt_without_an_evaluation_promises_nothing() -> None:
    assert "Estimates" not in _texts(receipt_view({"accession": "T-000001", "status": "accepted"}))


def test_a_message_naming_the_catalog_links_it() -> None:
    message = ("unknown accelerator 'H100X'; expected a catalog name or alias (see the accelerator catalog: "
               f"GET {CATALOG_PATH})")
    view = errors_view([{"row": 1, "column": "accelerator", "message": message},
                        {"row": 2, "column": "accelerator_count", "message": "-8 is negative"}])
    (link,) = _links(view)
    assert link.href == CATALOG_PATH and link.children == CATALOG_PATH
    assert "".join(_texts(view)).count(message) == 1  # the sentence reads whole around the link
