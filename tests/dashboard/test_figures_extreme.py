"""Every figure survives extreme values: dates at the calendar's ends (year 1, 9999) and compute of
0, negative, 1e300, infinity or NaN (a hostile or broken record must not make a page answer 500)."""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from dashboards.components import figures
from tests.dashboard import factories
from tests.web.conftest import Site, callback, site  # noqa: F401  (the seeded server fixture)

EXTREMES = [0.0, -1e25, 1e300, math.inf, -math.inf, math.nan, None, 3.8e25]
DAYS = [date.min, date(1, 1, 1), date(9999, 12, 31), date.max, date(2024, 7, 23)]


def _point(i: int, central: Any, day: date | None, low: Any = None, high: Any = None) -> dict[str, Any]:
    return {"id": i, "name": f"s{i}", "version": "", "provider": "p", "date": day, "central": central,
            "low": low, "high": high, "methods": ["reported"], "confidence": "likely", "status": "above",
            "projected": False}


def _strict_json(figure: Any) -> str:
    # Browsers parse JSON strictly: NaN or Infinity anywhere would break the page.
    plain = figure.to_plotly_json() if hasattr(figure, "to_plotly_json") else figure
    return json.dumps(plain, allow_nan=False, default=str)


def test_the_scatter_draws_only_what_a_log_axis_can_and_never_overflows() -> None:
    points = [_point(i, c, d, low=c, high=c) for i, (c, d) in enumerate(
        (c, d) for c in EXTREMES for d in DAYS)]
    points.append(_point(999, 3.8e25, date(2024, 7, 23), low=-5.0, high=math.inf))
    thresholds = [{"id": "ok", "threshold": 1e25}, {"id": "inf", "threshold": math.inf},
                  {"id": "zero", "threshold": 0}, {"id": "nan", "threshold": math.nan}]
    figure = figures.compute_scatter(points, thresholds)
    _strict_json(figure)
    ys = [y for trace in figure["data"] if trace["mode"] == "markers" for y in trace["y"]]
    assert set(ys) == {1e300, 3.8e25}  # finite and positive only
    lines = [t for t in figure["data"] if t["mode"] == "lines"]
    assert [t["y"][0] for t in lines] == [1e25]
    assert lines[0]["x"] == [date.min.isoformat(), date.max.isoformat()]  # held at the calendar's ends


def test_the_scatter_of_nothing_still_has_an_axis() -> None:
    figure = figures.compute_scatter([_point(1, None, None)], [{"id": "eu", "threshold": 1e25}])
    assert [t["mode"] for t in figure["data"]] == ["lines"]


@pytest.mark.parametrize("central", EXTREMES)
def test_method_comparison_and_inference_lines_take_any_figure(central: Any) -> None:
    per_method = [{"method": "hardware", "central": central, "low": central, "high": math.inf},
                  {"method": "reported", "central": 1e24, "low": math.nan, "high": -1.0}]
    _strict_json(figures.method_comparison(per_method, {"central": central, "low": None, "high": None}))
    series = [{"provider": "p", "name": "n", "version": "", "points": [
        {"at": date(9999, 12, 31), "central": central}, {"at": date(1, 1, 1), "central": 1e24}]}]
    _strict_json(figures.inference_lines(series))


OVERVIEW = "..ov-stats.children...ov-scatter.figure...ov-sample-note.children...ov-inference.children.."


def test_the_overview_answers_with_dates_at_the_calendars_ends(site: Site) -> None:  # noqa: F811
    """Systems stored with year-1 and year-9999 dates (before filing refused them) and absurd figures."""
    with Session(site.engine) as session:
        owner = factories.provider(session, "odd")
        for i, (day, central) in enumerate([(date(1, 1, 1), 1e300), (date(9999, 12, 31), 2e25),
                                            (date(9999, 12, 31), 1e-300)]):
            factories.estimate(session, factories.system(session, owner, f"odd-{i}", published=day), central)
        factories.summarise(session)
        session.commit()
    inputs = [("ov-regime", "value", None), ("ov-provider", "value", None), ("ov-status", "value", None),
              ("ov-dates", "start_date", None), ("ov-dates", "end_date", None)]
    response = callback(site.login("reg"), OVERVIEW, inputs)
    assert response.status_code == 200, response.text[:500]
    scatter = response.json["response"]["ov-scatter"]["figure"]
    drawn = {x for trace in scatter["data"] if trace["mode"] == "markers" for x in trace["x"]}
    assert {"0001-01-01", "9999-12-31"} <= drawn
