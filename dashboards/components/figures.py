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
from tracker.units import format_flop, format_interval, format_metric

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


def compute_scatter(points: Sequence[dict[str, Any]], thresholds: Sequence[dict[str, Any]],
                    regime_name: str | None = None) -> dict[str, Any]:
    """Training compute against date on a log axis, 90% intervals as error bars, a horizontal line
    per regime threshold, and one colour per status.

    The colour is the status under the selected regime (``regime_name``); with none selected, the
    most severe status over all regimes, and each hover names the regime it comes from, with the
    status and its reason. Projected figures (planned or in-progress compute) are drawn as
    diamonds in a legend entry of their own, coloured the same way.

    Built as the plain figure dict rather than through ``go.Figure``: Plotly validates every
    element of every array it is given, which for the 5,000-odd points of a large registry took
    about 400 ms per render, ten times the queries behind it."""
    data: list[dict[str, Any]] = []
    drawable = [{**p, "central": central} for p in points
                if isinstance(p.get("date"), date) and (central := _positive(p.get("central"))) is not None]
    measured = [p for p in drawable if p.get("estimate") != "projected"]
    for status in STATUS_ORDER:
        group = [p for p in measured if p.get("status", "unknown") == status]
        if group:
            data.append(_points_trace(group, STATUS_LABELS[status], STATUS_COLOURS[status], "circle"))
    planned = [p for p in drawable if p.get("estimate") == "projected"]
    if planned:
        trace = _points_trace(planned, PROJECTED_LABEL,
                              [STATUS_COLOURS.get(p.get("status") or "unknown", STATUS_COLOURS["unknown"])
                               for p in planned], "diamond")
        trace["marker"].update(size=12, line={"width": 1.5, "color": "#101828"})
        data.append(trace)
    dates = [p["date"] for p in drawable]
    start = _shifted(min(dates, default=_shifted(date.today(), -3 * 365)), -60)
    end = _shifted(max(dates, default=date.today()), 60)
    # One line per distinct threshold, naming every regime drawn at that level.
    levels: dict[float, list[str]] = {}
    for line in thresholds:
        level = _positive(line.get("threshold"))
        if level is not None:
            levels.setdefault(level, []).append(str(line.get("name") or line["id"]))
    for i, (level, names) in enumerate(sorted(levels.items())):
        shown = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more"
        data.append({
            "type": "scatter", "mode": "lines", "x": [start.isoformat(), end.isoformat()], "y": [level, level],
            "name": html_lib.escape(f"{format_flop(level)}: {shown}"),
            "line": {"color": "#344054", "width": 1.5, "dash": LINE_DASHES[i % len(LINE_DASHES)]},
            "hovertemplate": html_lib.escape(f"{format_flop(level)}: ") + "<br>".join(
                html_lib.escape(n) for n in names) + "<extra></extra>",
        })
    layout = _layout("Training compute (FLOP)", "Publication date (else last run end, else registration)", 460)
    legend_title = (f"Colour: status under {regime_name}" if regime_name else
                    "Colour: most severe status over all regimes (hover names the regime)")
    layout["legend"] = {**layout.get("legend", {}), "title": {"text": html_lib.escape(legend_title), "side": "top"}}
    return {"data": data, "layout": layout}


PROJECTED_LABEL = "Projected (planned or in-progress compute)"

_HOVER = ("<b>%{customdata[0]}</b><br>provider: %{customdata[1]}<br>"
          "%{customdata[7]}: %{customdata[4]}<br>90% interval: %{customdata[5]}<br>"
          "methods: %{customdata[2]}<br>confidence: %{customdata[3]}<br>"
          "regime: %{customdata[8]}<br>status: %{customdata[9]}<br>reason: %{customdata[10]}<extra></extra>")


def _points_trace(group: list[dict[str, Any]], name: str, colour: str | list[str], symbol: str) -> dict[str, Any]:
    error_colour = colour if isinstance(colour, str) else "#475467"
    return {
        "type": "scatter", "mode": "markers", "name": name,
        "x": [p["date"].isoformat() for p in group], "y": [p["central"] for p in group],
        "marker": {"color": colour, "size": 9, "symbol": symbol, "line": {"width": 1, "color": "white"}},
        "error_y": {"type": "data", "symmetric": False, "color": error_colour, "thickness": 1.2,
                    "array": [_spread(p["central"], p.get("high"), upward=True) for p in group],
                    "arrayminus": [_spread(p["central"], p.get("low"), upward=False) for p in group]},
        "customdata": [[_escaped(f"{p['name']} {p.get('version') or ''}".strip()),
                        _escaped(str(p.get("provider") or "")), ", ".join(p.get("methods") or []) or "—",
                        p.get("confidence") or "—", _flop_text(p["central"]),
                        _interval_text(_positive(p.get("low")), _positive(p.get("high"))), p["id"],
                        "projected training compute" if p.get("estimate") == "projected" else "training compute",
                        _escaped(str(p.get("regime_name") or "all regimes")), status_text(p),
                        _escaped(status_reason(p))]
                       for p in group],
        "hovertemplate": _HOVER,
    }


def status_text(point: dict[str, Any]) -> str:
    """The plotted status as the legend names it, marked when it comes from planned compute."""
    label = STATUS_LABELS.get(point.get("status") or "unknown", "Unknown")
    return f"{label} (projected)" if point.get("flag_projected") and point.get("flag_status") else label


_MEANING = {
    "above": "the whole 90% interval is past the threshold of {}",
    "likely_above": "the central estimate is past the threshold of {}; the 90% interval straddles it",
    "likely_below": "the central estimate is below the threshold of {}; the 90% interval straddles it",
    "below": "the whole 90% interval is below the threshold of {}",
}


def status_reason(point: dict[str, Any]) -> str:
    """Why the point has its status: the flag's own reason, else what the status means against the
    regime's threshold (in its metric's unit); a regime that did not evaluate the system says so."""
    status = point.get("flag_status")
    if status is None:
        if point.get("regime_id"):
            return ("not evaluated under this regime: it does not apply to this system, or the system "
                    "has no figure for its metric")
        return "no regime has evaluated this system yet"
    return _reason_text(status, point.get("reason"), point.get("threshold"), point.get("metric"),
                        bool(point.get("flag_projected")))


@functools.lru_cache(maxsize=4096)
def _reason_text(status: str, reason: str | None, threshold: float | None, metric: str | None,
                 projected: bool) -> str:
    # A handful of distinct (status, threshold) pairs, shared by thousands of points per render.
    if reason:
        return reason
    meaning = _MEANING.get(status)
    if meaning is None or threshold is None:
        return "the tracker cannot assess this regime from the figures it holds"
    text = meaning.format(format_metric(threshold, metric))
    return text + " (counting planned and in-progress compute)" if projected else text


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
    layout = _layout("Inference compute per period (FLOP)", "End of the filed usage period", 360)
    ends = [p["at"] for s in series for p in s["points"] if isinstance(p["at"], date)]
    if ends:
        # A date axis, padded by a month each side: a single period would otherwise be drawn on an
        # axis of milliseconds around its end.
        layout["xaxis"] = {**layout.get("xaxis", {}), "type": "date", "tickformat": "%Y-%m-%d",
                           "range": [_shifted(min(ends), -31).isoformat(), _shifted(max(ends), 31).isoformat()]}
    return {"data": data, "layout": layout}


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
