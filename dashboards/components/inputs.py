"""Callback inputs, checked before use: a callback is a public HTTP endpoint, and its inputs are
whatever the request says (issue 15: page ``1e30`` or ``"abc"``, a provider id that is not a number,
a year-0 date each gave a 500).

Every checker returns the value in the type the code below it expects, or raises :class:`BadInput`,
which :func:`install` turns into a JSON 400 naming the input and what it expected (the same body as
the API's errors). A browser never sends such values: only hand-written requests meet the 400.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from datetime import date
from typing import Any

import flask

MAX_ID = 2**63 - 1  # BIGINT: a larger id names nothing, and the database would refuse to bind it
MAX_PAGE = 1_000_000
MAX_ROWS_REQUESTED = 10_000  # one grid block is 100 rows
MAX_START_ROW = 10**9
EARLIEST = date(1950, 1, 1)  # before the first computer: no filter needs an earlier date
LATEST = date(2200, 12, 31)
MAX_TEXT_CHARS = 500


class BadInput(ValueError):
    def __init__(self, name: str, expected: str) -> None:
        super().__init__(f"callback input {name!r} is not valid; expected {expected}")


def install(app: flask.Flask) -> None:
    @app.errorhandler(BadInput)
    def _bad_input(exc: BadInput) -> tuple[flask.Response, int]:
        return flask.jsonify({"errors": [{"row": None, "column": None, "message": str(exc)}]}), 400


def whole_number(value: Any, name: str, *, low: int = 0, high: int = MAX_ID, default: int | None = None) -> int:
    """An integer in [low, high]: an int, or text of decimal digits (JSON numbers that are whole
    floats count too). Not a bool, not 1e30, not NaN."""
    if value is None or value == "":
        if default is None:
            raise BadInput(name, f"a whole number from {low} to {high}")
        return default
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().isascii() and value.strip().lstrip("-").isdigit() \
            and len(value.strip()) <= 20:
        number = int(value.strip())
    if number is None or not low <= number <= high:
        raise BadInput(name, f"a whole number from {low} to {high}")
    return number


def record_id(value: Any, name: str) -> int:
    """A database id: a whole number from 1 (a larger one than BIGINT names nothing)."""
    return whole_number(value, name, low=1)


def page_number(value: Any, name: str = "page") -> int:
    return whole_number(value, name, low=1, high=MAX_PAGE, default=1)


def optional_text(value: Any, name: str, *, max_chars: int = MAX_TEXT_CHARS) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > max_chars or "\x00" in value:
        raise BadInput(name, f"text of at most {max_chars} characters")
    return value


def choice(value: Any, name: str, choices: Collection[str]) -> str | None:
    """None, or one of ``choices``."""
    if value is None or value == "":
        return None
    if not isinstance(value, str) or value not in choices:
        raise BadInput(name, f"one of {', '.join(sorted(choices))}")
    return value


def text_list(value: Any, name: str, *, max_items: int = 100) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > max_items \
            or not all(isinstance(v, str) and len(v) <= MAX_TEXT_CHARS for v in value):
        raise BadInput(name, f"a list of at most {max_items} texts")
    return tuple(value)


def id_list(value: Any, name: str, *, max_items: int = 1000) -> tuple[int, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > max_items:
        raise BadInput(name, f"a list of at most {max_items} ids")
    return tuple(sorted({record_id(v, name) for v in value}))


def iso_date(value: Any, name: str) -> date | None:
    """None, or a date from 1950 to 2200 as ``YYYY-MM-DD`` (a time after it is ignored, as the date
    picker sends one)."""
    if value is None or value == "":
        return None
    expected = f"a date from {EARLIEST} to {LATEST} as YYYY-MM-DD"
    if not isinstance(value, str):
        raise BadInput(name, expected)
    try:
        parsed = date.fromisoformat(value[:10])
    except ValueError:
        raise BadInput(name, expected) from None
    if not EARLIEST <= parsed <= LATEST:
        raise BadInput(name, expected)
    return parsed


def mapping(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(name, "an object")
    return value


def grid_request(value: Any, name: str = "getRowsRequest") -> dict[str, Any]:
    """An ag-grid infinite-model request: rows wanted, sort model, filter model, in their shapes.
    Column ids outside the query's whitelist are ignored there (tracker/store/queries/grid.py), as
    are filter values it cannot read."""
    request = mapping(value, name)
    start = whole_number(request.get("startRow"), f"{name}.startRow", default=0, high=MAX_START_ROW)
    end = whole_number(request.get("endRow"), f"{name}.endRow", default=start + 100)
    if end < start or end - start > MAX_ROWS_REQUESTED:
        raise BadInput(f"{name}.endRow", f"at most {MAX_ROWS_REQUESTED} rows from startRow on")
    sort = request.get("sortModel") or []
    if not isinstance(sort, list) or len(sort) > 20 or not all(
            isinstance(s, dict) and isinstance(s.get("colId"), str) and s.get("sort") in ("asc", "desc", None)
            for s in sort):
        raise BadInput(f"{name}.sortModel", "a list of {colId: a column id, sort: asc or desc}")
    filters = mapping(request.get("filterModel"), f"{name}.filterModel")
    if len(filters) > 50 or not all(isinstance(spec, dict) for spec in filters.values()):
        raise BadInput(f"{name}.filterModel", "an object of column ids, each with its filter object")
    return {"startRow": start, "endRow": end, "sortModel": sort, "filterModel": filters}
