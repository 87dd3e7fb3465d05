"""How a receipt, a rejection and a filing's error report look (portal and filing pages)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import html

from dashboards.components.formatting import card, empty_state, link, table, when


def estimates_when(state: Mapping[str, Any] | None) -> str:
    """When a filing's estimates appear, from its evaluation state (``tracker.worker.status``)."""
    state = state or {}
    computing = (f"Estimates for this filing are being computed; they appear within about "
                 f"{state.get('expected_within_s')} seconds.")
    return {
        "done": "Estimates updated: they include this filing.",
        "queued": computing,
        "running": computing,
        "nightly": f"Estimates for this filing appear after the nightly evaluation ({when(state.get('expected_by'))}).",
        "not_needed": "A rejected filing changes no estimate.",
    }.get(str(state.get("state")), "")


def receipt_view(receipt: Mapping[str, Any]) -> html.Section:
    counts = receipt.get("counts") or {}
    accession = receipt.get("accession")
    rows: list[list[Any]] = [
        ["Accession", link(accession, f"/filings/{accession}") if accession else "—"],
        ["Status", "accepted (already filed: this is the first receipt)" if receipt.get("duplicate")
         else str(receipt.get("status", "accepted"))],
        ["Kind", receipt.get("kind") or "—"], ["File", receipt.get("filename") or "—"],
        ["SHA-256", html.Code(receipt.get("sha256") or "—")],
        ["Records", counts.get("records", receipt.get("record_count", "—"))],
        ["Superseded", counts.get("superseded", receipt.get("superseded_count", "—"))],
        ["Filed", f"{when(receipt.get('filed_at'))} by {receipt.get('filed_by') or '—'}"],
    ]
    if receipt.get("evaluation"):  # what the receipt promises: when this filing's estimates appear
        rows.append(["Estimates", estimates_when(receipt["evaluation"])])
    if receipt.get("superseded_by"):  # re-filed bytes of a filing amended since
        rows.append(["Superseded by", html.Span([link(a, f"/filings/{a}") for a in receipt["superseded_by"]])])
        rows.append(["Note", receipt.get("note") or "This filing is no longer current."])
    return card("Receipt", table(["", ""], rows, class_name="kv", table_id="receipt"), class_name="success")


# Where a message points providers at the accelerator catalog (tracker.filing): a link they can follow.
CATALOG_PATH = "/api/v1/accelerators"


def _message(text: str) -> Any:
    """A problem's message, the catalog it names as a link."""
    before, found, after = text.partition(CATALOG_PATH)
    if not found:
        return text
    return html.Span([before, html.A(CATALOG_PATH, href=CATALOG_PATH, className="catalog-link"), after])


def errors_view(errors: Sequence[Any], *, title: str = "The file was rejected") -> html.Section:
    if not errors:
        return card(title, empty_state("No error details were recorded."))
    rows = []
    for e in errors:
        if isinstance(e, Mapping):
            rows.append([e.get("row") if e.get("row") is not None else "—", e.get("column") or "—",
                         _message(str(e.get("message") or e))])
        else:
            rows.append(["—", "—", _message(str(e))])
    return card(f"{title}: {len(rows)} problem{'s' if len(rows) != 1 else ''} to fix",
                html.P("Rows count data records: row 1 is the first record under the header.", className="muted"),
                table(["Row", "Column", "What is wrong"], rows, table_id="filing-errors"), class_name="failure")
