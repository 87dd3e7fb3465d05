"""Plotly figures built from query results (pure: rows in, figure out).

Names are HTML-escaped before they reach hover text, because Plotly renders a subset of HTML
there and a system name is provider-written text.
"""

from __future__ import annotations

import functools
import html as html_lib
import json
import math
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import plotly.graph_objects as go

from dashboards.components.formatting import STATUS_COLOURS, STATUS_LABELS
from tracker.units import format_flop, format_interval

STATUS_ORDER = ("above", "likely_above", "likely_below", "below", "unknown")
LINE_DASHES = ("dash", "dot", "dashdot", "longdash", "longdashdot")
FONT = "Inter, system-ui, -apple-system, Segoe UI, Roboto, sans-serif"

# The scatter's hover text formats three figures for each of up to 5,500 points, and successive
# renders (other filters, other viewers, the next refresh) show mostly the same systems: the
# formatters are pure, so their texts are kept (a few MB at most).
_flop_text = functools.lru_cache(maxsize=65_536)(format_flop)
_interval_text = functools.lru_cache(maxsize=65_536)(format_interval)
_escaped = functools.lru_cache(maxsize=65_536)(html_lib.escape)


def _positive(value: Any) -> float | None:
    """A figure a log axis can draw: finite and above zero; anything else (None, NaN, infinities,
    zero, negatives: a hostile or broken record) is left out rather than failing the page."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) and number > 0 else None


def _spread(central: float, bound: Any, upward: bool) -> float:
    """An error bar's length from ``central`` to ``bound`` (zero when the bound is unusable)."""
    edge = _positive(bound)
    if edge is None:
        return 0.0
    length = edge - central if upward else central - edge
    return length if math.isfinite(length) and length > 0 else 0.0


def _shifted(day: date, days: int) -> date:
    """``day`` moved by ``days``, held at the calendar's ends (year 1 or 9999 once overflowed here)."""
    try:
        return day + timedelta(days=days)
    except OverflowError:
        return date.max if days > 0 else date.min


def _base_layout(fig: go.Figure, y_title: str) -> go.Figure:
    fig.update_layout(
        template="plotly_white", font={"family": FONT, "size": 13}, margin={"l": 70, "r": 20, "t": 30, "b": 50},
        legend={"orientation": "h", "y": -0.18}, hoverlabel={"align": "left"}, height=460,
    )
    fig.update_yaxes(type="log", title=y_title, exponentformat="power", showexponent="all")
    return fig


@functools.lru_cache(maxsize=8)
def _layout_json(y_title: str, x_title: str, height: int) -> str:
    # Applying the template through go.Figure costs tens of milliseconds: once per layout, not per render.
    fig = _base_layout(go.Figure(), y_title)
    fig.update_xaxes(title=x_title)
    fig.update_layout(height=height)
    return json.dumps(fig.to_plotly_json()["layout"])


def _layout(y_title: str, x_title: str, height: int) -> dict[str, Any]:
    layout: dict[str, Any] = json.loads(_layout_json(y_title, x_title, height))
    return layout


def compute_scatter(points: Sequence[dict[str, Any]], thresholds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Training compute against date on a log axis, 90% intervals as error bars, one colour per
    status, and a horizontal line per regime threshold.

    Built as the plain figure dict rather than through ``go.Figure``: Plotly validates every
    element of every array it is given, which for the 5,000-odd points of a large registry took
    about 400 ms per render, ten times the queries behind it."""
    data: list[dict[str, Any]] = []
    drawable = [{**p, "central": central} for p in points
                if isinstance(p.get("date"), date) and (central := _positive(p.get("central"))) is not None]
    for status in STATUS_ORDER:
        group = [p for p in drawable if p.get("status", "unknown") == status]
        if not group:
            continue
        data.append({
            "type": "scatter", "mode": "markers", "name": STATUS_LABELS[status],
            "x": [p["date"].isoformat() for p in group], "y": [p["central"] for p in group],
            "marker": {"color": STATUS_COLOURS[status], "size": 9, "line": {"width": 1, "color": "white"}},
            "error_y": {"type": "data", "symmetric": False, "color": STATUS_COLOURS[status], "thickness": 1.2,
                        "array": [_spread(p["central"], p.get("high"), upward=True) for p in group],
                        "arrayminus": [_spread(p["central"], p.get("low"), upward=False) for p in group]},
            "customdata": [[_escaped(f"{p['name']} {p.get('version') or ''}".strip()),
                            _escaped(str(p.get("provider") or "")), ", ".join(p.get("methods") or []) or "—",
                            p.get("confidence") or "—", _flop_text(p["central"]),
                            _interval_text(_positive(p.get("low")), _positive(p.get("high"))), p["id"]]
                           for p in group],
            "hovertemplate": ("<b>%{customdata[0]}</b><br>provider: %{customdata[1]}<br>"
                              "training compute: %{customdata[4]}<br>90% interval: %{customdata[5]}<br>"
                              "methods: %{customdata[2]}<br>confidence: %{customdata[3]}<extra></extra>"),
        })
    dates = [p["date"] for p in drawable]
    start = _shifted(min(dates, default=_shifted(date.today(), -3 * 365)), -60)
    end = _shifted(max(dates, default=date.today()), 60)
    # One line per distinct threshold, naming every regime drawn at that level.
    levels: dict[float, list[str]] = {}
    for line in thresholds:
        level = _positive(line.get("threshold"))
        if level is not None:
            levels.setdefault(level, []).append(str(line["id"]))
    for i, (level, ids) in enumerate(sorted(levels.items())):
        shown = ", ".join(ids[:3]) + (f" +{len(ids) - 3} more" if len(ids) > 3 else "")
        data.append({
            "type": "scatter", "mode": "lines", "x": [start.isoformat(), end.isoformat()], "y": [level, level],
            "name": f"{format_flop(level)}: {shown}",
            "line": {"color": "#344054", "width": 1.5, "dash": LINE_DASHES[i % len(LINE_DASHES)]},
            "hovertemplate": html_lib.escape(f"{format_flop(level)}: {', '.join(ids)}") + "<extra></extra>",
        })
    return {"data": data, "layout": _layout("Training compute (FLOP)",
                                            "Publication date (else last run end, else registration)", 460)}


def inference_lines(series: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One line per system: inference compute per filed usage period (a plain figure dict, as above)."""
    data = []
    for s in series:
        label = html_lib.escape(f"{s['provider']}/{s['name']} {s['version'] or ''}".strip())
        data.append({
            "type": "scatter", "mode": "lines+markers", "name": label,
            "x": [p["at"].isoformat() if isinstance(p["at"], date) else p["at"] for p in s["points"]],
            "y": [_positive(p["central"]) for p in s["points"]],
            "customdata": [format_flop(p["central"]) for p in s["points"]],
            "hovertemplate": f"<b>{label}</b><br>period ending %{{x|%Y-%m-%d}}: %{{customdata}}<extra></extra>",
        })
    return {"data": data,
            "layout": _layout("Inference compute per period (FLOP)", "End of the filed usage period", 360)}


def method_comparison(per_method: Sequence[dict[str, Any]], combined: dict[str, Any] | None) -> go.Figure:
    """Each method's estimate with its interval, side by side with the combined estimate."""
    rows = [*per_method]
    if combined and combined.get("central"):
        rows.append({"method": "combined", **{k: combined.get(k) for k in ("central", "low", "high")}})
    rows = [{**r, "central": central} for r in rows if (central := _positive(r.get("central"))) is not None]
    fig = go.Figure(go.Scatter(
        x=[r["central"] for r in rows], y=[r["method"] for r in rows], mode="markers",
        marker={"size": 11, "color": ["#101828" if r["method"] == "combined" else "#1570ef" for r in rows]},
        error_x={"type": "data", "symmetric": False,
                 "array": [_spread(r["central"], r.get("high"), upward=True) for r in rows],
                 "arrayminus": [_spread(r["central"], r.get("low"), upward=False) for r in rows]},
        customdata=[[format_flop(r["central"]), format_interval(_positive(r.get("low")), _positive(r.get("high")))]
                    for r in rows],
        hovertemplate="%{y}: %{customdata[0]}<br>90%: %{customdata[1]}<extra></extra>",
    ))
    fig.update_layout(template="plotly_white", font={"family": FONT, "size": 13}, height=80 + 45 * len(rows),
                      margin={"l": 100, "r": 20, "t": 10, "b": 40}, showlegend=False)
    fig.update_xaxes(type="log", title="FLOP", exponentformat="power")
    return fig
