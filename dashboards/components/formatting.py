"""Small building blocks every page uses, so numbers, statuses and empty states look alike."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from dash import dcc, html

from tracker.units import (
    format_date,
    format_datetime,
    format_flop,
    format_interval,
    format_metric,
    format_metric_estimate,
    format_number,
    format_scientific,
)

STATUS_LABELS = {"above": "Above", "likely_above": "Likely above", "likely_below": "Likely below",
                 "below": "Below", "unknown": "Unknown"}
STATUS_COLOURS = {"above": "#b42318", "likely_above": "#dc6803", "likely_below": "#1570ef",
                  "below": "#12b76a", "unknown": "#667085"}
COMPARATORS = {"gt": ">", "gte": "≥", "none": "—"}

# Pages import every formatter from here; the text rules themselves live in tracker/units.py.
__all__ = ["day", "format_date", "format_datetime", "format_flop", "format_interval", "format_metric",
           "format_metric_estimate", "format_number", "format_scientific", "when"]


def when(value: datetime | date | str | None) -> str:
    """An instant as ``2026-12-04 04:05 UTC``, a day as ``2026-12-04``; ``—`` when unknown."""
    return format_datetime(value)


def day(value: datetime | date | str | None) -> str:
    """A day as ``2026-12-04`` (an instant's UTC day); ``—`` when unknown."""
    return format_date(value)


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
    # Counts get thousands separators here, so every tile on every page writes them alike.
    text = format_number(value) if isinstance(value, int | float) and not isinstance(value, bool) else str(value)
    return html.Div([html.Div(text, className="stat-value", **value_attrs),
                     html.Div(label, className="stat-label")], className=f"stat {tone}".strip())


# A cell that is a figure or a date as tracker/units.py writes it: "3.8 × 10²⁵ FLOP",
# "≥ 1,000,000 registered users", "2.9 × 10²⁵ – 4.9 × 10²⁵ FLOP", "2026-12-04", "2026-12-04 04:05 UTC".
_FIGURE = re.compile(r"[≥>≤<]?\s?-?[\d.,]+( × 10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?( – -?[\d.,]+( × 10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+)?)?"
                     r"( (FLOP per 30 days|FLOP|OP/s|USD|UTC|((registered |monthly active )?(business )?)?users))?"
                     r"( cumulative)?"
                     r"|\d{4}-\d{2}-\d{2}( \d{2}:\d{2} UTC)?( – \d{4}-\d{2}-\d{2})?")


# The same inside a sentence ("inference, period ending 2026-10-31"): each kept whole.
_FIGURE_IN_TEXT = re.compile(r"-?\d[\d.,]* × 10[⁻⁰¹²³⁴⁵⁶⁷⁸⁹]+( (FLOP|OP/s))?|\d{4}-\d{2}-\d{2}( \d{2}:\d{2} UTC)?"
                             r"|\d{1,3}(,\d{3})+(\.\d+)?")


def is_figure(value: Any) -> bool:
    """Whether ``value`` is a figure or a date, whose cell must never break across lines."""
    return isinstance(value, str) and len(value) <= 48 and _FIGURE.fullmatch(value) is not None


def unbroken(text: str) -> str | list[Any]:
    """``text`` with each figure or date in it wrapped in a ``figure`` span, so the sentence wraps
    at its spaces but never inside ``3.8 × 10²⁵`` or after the hyphens of ``2026-10-31``."""
    parts: list[Any] = []
    end = 0
    for match in _FIGURE_IN_TEXT.finditer(text):
        parts += [text[end:match.start()], figure(match.group())]
        end = match.end()
    if not parts:
        return text
    return [p for p in [*parts, text[end:]] if not (isinstance(p, str) and p == "")]


def cell(value: Any) -> html.Td:
    if is_figure(value):
        return html.Td(value, className="figure")
    return html.Td(unbroken(value) if isinstance(value, str) else value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, class_name: str = "",
          table_id: str | None = None) -> html.Table:
    """A plain HTML table; every cell is a Dash child, so text is escaped by React. Figure and
    date cells are marked ``figure`` (no line breaks inside); a wide table scrolls in its card."""
    attrs: dict[str, Any] = {"className": f"table {class_name}".strip()}
    if table_id:
        attrs["id"] = table_id
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in headers])),
                       html.Tbody([html.Tr([cell(c) for c in row]) for row in rows])], **attrs)


def figure(text: str) -> html.Span:
    """A figure or date inside other content, kept on one line."""
    return html.Span(text, className="figure")


def link(text: str, href: str) -> dcc.Link:
    return dcc.Link(text, href=href)


def system_label(name: str | None, version: str | None = None) -> str:
    return f"{name}{' ' + version if version else ''}" if name else "—"


def loading(child: Any, *, target: str | None = None) -> dcc.Loading:
    return dcc.Loading(child, type="circle", delay_show=250, **({"target_components": {target: "*"}}
                                                                 if target else {}))
