"""How a receipt, a rejection and a filing's error report look (portal and filing pages)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dash import html

from dashboards.components.formatting import card, empty_state, link, table, when


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
    if receipt.get("superseded_by"):  # re-filed bytes of a filing amended since
        rows.append(["Superseded by", html.Span([link(a, f"/filings/{a}") for a in receipt["superseded_by"]])])
        rows.append(["Note", receipt.get("note") or "This filing is no longer current."])
    return card("Receipt", table(["", ""], rows, class_name="kv", table_id="receipt"), class_name="success")


def errors_view(errors: Sequence[Any], *, title: str = "The file was rejected") -> html.Section:
    if not errors:
        return card(title, empty_state("No error details were recorded."))
    rows = []
    for e in errors:
        if isinstance(e, Mapping):
            rows.append([e.get("row") if e.get("row") is not None else "—", e.get("column") or "—",
                         e.get("message") or str(e)])
        else:
            rows.append(["—", "—", str(e)])
    return card(f"{title}: {len(rows)} problem{'s' if len(rows) != 1 else ''} to fix",
                html.P("Rows count data records: row 1 is the first record under the header.", className="muted"),
                table(["Row", "Column", "What is wrong"], rows, table_id="filing-errors"), class_name="failure")
