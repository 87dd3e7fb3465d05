"""Small building blocks every page uses, so numbers, statuses and empty states look alike."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from dash import dcc, html

from tracker.units import format_flop, format_interval

STATUS_LABELS = {"above": "Above", "likely_above": "Likely above", "likely_below": "Likely below",
                 "below": "Below", "unknown": "Unknown"}
STATUS_COLOURS = {"above": "#b42318", "likely_above": "#dc6803", "likely_below": "#1570ef",
                  "below": "#12b76a", "unknown": "#667085"}
COMPARATORS = {"gt": ">", "gte": "≥", "none": "—"}

__all__ = ["format_flop", "format_interval"]


def when(value: datetime | date | str | None) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def status_badge(status: str | None, projected: bool = False) -> html.Span:
    key = status or "unknown"
    label = STATUS_LABELS.get(key, key)
    return html.Span(f"{label}{' (projected)' if projected else ''}", className=f"badge status-{key}")


def page_header(title: str, subtitle: str | None = None) -> html.Div:
    return html.Div([html.H1(title), html.P(subtitle, className="muted") if subtitle else None],
                    className="page-header")


def empty_state(message: str, hint: str | None = None) -> html.Div:
    """What to show instead of an empty table: what it means and what to do next."""
    return html.Div([html.P(message, className="empty-title"),
                     html.P(hint, className="muted") if hint else None], className="empty-state")


def error_message(message: str) -> html.Div:
    return html.Div(message, className="error-box", role="alert")


def card(title: str | None, *children: Any, class_name: str = "") -> html.Section:
    return html.Section([html.H2(title) if title else None, *children], className=f"card {class_name}".strip())


def stat(label: str, value: Any, *, tone: str = "", test_id: str | None = None) -> html.Div:
    value_attrs: dict[str, Any] = {"id": test_id} if test_id else {}
    return html.Div([html.Div(str(value), className="stat-value", **value_attrs),
                     html.Div(label, className="stat-label")], className=f"stat {tone}".strip())


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, class_name: str = "",
          table_id: str | None = None) -> html.Table:
    """A plain HTML table; every cell is a Dash child, so text is escaped by React."""
    attrs: dict[str, Any] = {"className": f"table {class_name}".strip()}
    if table_id:
        attrs["id"] = table_id
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in headers])),
                       html.Tbody([html.Tr([html.Td(c) for c in row]) for row in rows])], **attrs)


def link(text: str, href: str) -> dcc.Link:
    return dcc.Link(text, href=href)


def system_label(name: str | None, version: str | None = None) -> str:
    return f"{name}{' ' + version if version else ''}" if name else "—"


def loading(child: Any, *, target: str | None = None) -> dcc.Loading:
    return dcc.Loading(child, type="circle", delay_show=250, **({"target_components": {target: "*"}}
                                                                 if target else {}))
