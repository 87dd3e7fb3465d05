"""Every ``/api/`` path answers JSON, errors included.

The dashboard's page route matches any path (``/<path:path>``), so without this an unknown
``/api/v1/...`` path answered 200 with the dashboard's HTML, and a wrong method got werkzeug's HTML
405. Scripts parse what the API sends: an API path that no API route serves answers a JSON 404
(405 with ``Allow`` for a known path and another method), in the API's error shape.
"""

from __future__ import annotations

from typing import Any

import flask
from werkzeug.exceptions import HTTPException, MethodNotAllowed

API_PREFIX = "/api/"


def is_api_path(path: str) -> bool:
    return path == API_PREFIX.rstrip("/") or path.startswith(API_PREFIX)


def error_body(message: str) -> dict[str, Any]:
    """The API's error shape (tracker/api/routes.py ``_error``)."""
    return {"errors": [{"row": None, "column": None, "message": message}]}


def _json_error(status: int, message: str) -> flask.Response:
    response = flask.jsonify(error_body(message))
    response.status_code = status
    return response


def _unrouted_api_path() -> Any:
    request = flask.request
    if not is_api_path(request.path):
        return None
    rule = request.url_rule
    if rule is not None and is_api_path(rule.rule):
        return None  # an API route: its own handlers answer
    allowed = _api_methods(request.path) if isinstance(request.routing_exception, MethodNotAllowed) else []
    if allowed:
        response = _json_error(405, f"{request.method} is not allowed on {request.path}; "
                                    f"expected one of {', '.join(allowed)}")
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return _json_error(404, f"no API resource at {request.path}; see /api/v1/openapi.json")


def _api_methods(path: str) -> list[str]:
    """The methods an API route serves at ``path`` (the dashboard's catch-all does not count)."""
    adapter = flask.current_app.url_map.bind("localhost")
    methods = []
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
        try:
            rule, _ = adapter.match(path, method=method, return_rule=True)
        except HTTPException:
            continue
        if is_api_path(rule.rule):
            methods.append(method)
    return methods


def _http_error(exc: HTTPException) -> Any:
    if not is_api_path(flask.request.path):
        return exc  # pages keep werkzeug's own error pages
    response = _json_error(exc.code or 500, exc.description or exc.name)
    kept = dict(exc.get_headers())
    for name in ("Allow", "Retry-After", "WWW-Authenticate"):
        if name in kept:
            response.headers[name] = kept[name]
    return response


def install(app: flask.Flask) -> None:
    # First in line: the sign-in gate and the Dash catch-all must never see an unrouted API path.
    app.before_request_funcs.setdefault(None, []).insert(0, _unrouted_api_path)
    app.register_error_handler(HTTPException, _http_error)
