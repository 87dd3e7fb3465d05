"""``GET /api/v1/register``: the public register as JSON or CSV, with no login (contract §6).

Public fields only, decided once in ``PUBLIC_COLUMNS`` (docs/registration.md has the table): the
query layer already selects public fields, and every row is projected through this list again
before it leaves, so a field added to the query later cannot reach an anonymous caller by accident.
Paging and search are bounded (``MAX_LIMIT`` rows, ``MAX_SEARCH_CHARS`` characters) so that one
caller cannot make the server build an unbounded answer.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, jsonify, request
from sqlmodel import Session

from tracker.api.registrations import _iso
from tracker.api.routes import _settings
from tracker.export import to_csv
from tracker.store.db import read_session
from tracker.store.queries.registrations import public_register

register_blueprint = Blueprint("public_register", __name__, url_prefix="/api/v1")

MAX_LIMIT = 1000
MAX_OFFSET = 10_000_000
MAX_SEARCH_CHARS = 200
# (key, CSV header): the public fields of a registered system, in the order they are shown.
PUBLIC_COLUMNS: tuple[tuple[str, str], ...] = (
    ("registration_number", "registration_number"),
    ("provider", "provider"),
    ("provider_slug", "provider_slug"),
    ("system", "system"),
    ("version", "version"),
    ("regime_id", "regime_id"),
    ("regime_name", "regime_name"),
    ("threshold", "threshold"),
    ("tier", "tier"),
    ("state", "state"),
    ("crossed_on", "crossed_on"),
    ("registered_at", "registered_at"),
    ("certificate_status", "certificate_status"),
    ("certificate_url", "certificate_url"),
    ("metric", "metric"),  # what the threshold measures (its unit); last, so earlier CSV columns keep their place
)
PUBLIC_FIELDS = tuple(key for key, _ in PUBLIC_COLUMNS)


class QueryError(ValueError):
    """A query parameter that is not what the register accepts; the message names it."""


def certificate_url(registration_number: str) -> str:
    return f"/api/v1/certificates/{quote(registration_number, safe='')}"


def _public(row: dict[str, Any]) -> dict[str, Any]:
    public = {key: row.get(key) for key in PUBLIC_FIELDS}
    public["regime_id"] = row.get("regime_id") or row.get("regime")  # the query names it "regime"
    number = public.get("registration_number")
    public["certificate_url"] = certificate_url(number) if isinstance(number, str) and number else None
    return public


def clean_search(value: Any) -> str | None:
    """The search text trimmed and capped, or None when there is nothing to search for."""
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())[:MAX_SEARCH_CHARS]
    return text or None


def public_rows(session: Session, *, search: str | None = None, limit: int = MAX_LIMIT,
                offset: int = 0) -> list[dict[str, Any]]:
    """Registered systems matching ``search``, public fields only, at most ``MAX_LIMIT`` rows."""
    limit = min(max(int(limit), 0), MAX_LIMIT)
    offset = min(max(int(offset), 0), MAX_OFFSET)
    if limit == 0:
        return []
    rows = public_register(session, search=clean_search(search), limit=limit, offset=offset)
    return [_public(dict(row)) for row in rows][:limit]


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise QueryError(f"query parameter {name!r}: {raw[:40]!r} is not a whole number; "
                         f"expected {low} to {high}") from None
    if not low <= value <= high:
        raise QueryError(f"query parameter {name!r}: {value} is out of range; expected {low} to {high}")
    return value


def _answer(fmt: str) -> tuple[Response, int]:
    try:
        if fmt not in ("json", "csv"):
            raise QueryError(f"query parameter 'format': {fmt[:20]!r} is not known; expected json or csv")
        search = request.args.get("q")
        if search is not None and len(search) > MAX_SEARCH_CHARS:
            raise QueryError(f"query parameter 'q': {len(search)} characters; expected at most {MAX_SEARCH_CHARS}")
        limit = _int_arg("limit", MAX_LIMIT, 1, MAX_LIMIT)
        offset = _int_arg("offset", 0, 0, MAX_OFFSET)
    except QueryError as exc:
        return jsonify({"errors": [{"row": None, "column": None, "message": str(exc)}]}), 400
    with read_session(_settings()) as session:  # the replica when one is configured
        rows = public_rows(session, search=search, limit=limit, offset=offset)
    if fmt == "csv":
        body = to_csv(rows, PUBLIC_COLUMNS)
        response = Response(body, mimetype="text/csv")
        response.headers["Content-Disposition"] = 'attachment; filename="register.csv"'
        return response, 200
    document = {"registrations": rows, "count": len(rows), "limit": limit, "offset": offset,
                "search": clean_search(search)}
    return Response(json.dumps(document, default=_iso), mimetype="application/json"), 200


@register_blueprint.get("/register")
def register_json() -> tuple[Response, int]:
    return _answer(request.args.get("format", "json"))


@register_blueprint.get("/register.csv")
def register_csv() -> tuple[Response, int]:
    return _answer("csv")
