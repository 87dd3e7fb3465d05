"""Response headers and the same-origin rule for state-changing requests.

Content-Security-Policy: scripts only from this server plus the hashes of Dash's own inline
bootstrap script (``Dash.csp_hashes()``), so no CDN and no injected script runs; no 'unsafe-eval'
(the dashboard avoids ag-grid's string functions, the only code here that would need it).
Styles allow 'unsafe-inline' because Plotly and AG Grid inject <style> elements at run time.

Dash callbacks are JSON POSTs authenticated by the session cookie. SameSite=Lax already keeps the
cookie off cross-site POSTs; as a second lock every cookie-authenticated POST/PUT/PATCH/DELETE
must carry an Origin (or, failing that, a Referer) naming this server. Requests that authenticate
with a bearer token carry no ambient credential and are exempt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import flask

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP_HASHES_KEY = "tracker_csp_script_hashes"


def content_security_policy(script_hashes: Sequence[str] = ()) -> str:
    hashes = " ".join(f"'{h.strip(chr(39))}'" for h in script_hashes)
    directives = [
        "default-src 'self'",
        f"script-src 'self' {hashes}".strip(),
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    return "; ".join(directives)


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_origin(request: flask.Request) -> bool:
    """True when the request's Origin (else Referer) is this server's own origin."""
    own = request.host_url.rstrip("/").lower()
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        return origin.rstrip("/").lower() == own
    referer = request.headers.get("Referer")
    return bool(referer) and _origin_of(referer or "") == own


def _check_origin() -> Any:
    request = flask.request
    if request.method not in UNSAFE_METHODS:
        return None
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return None  # token clients (scripts) send no cookie a forged page could ride on
    if not request.cookies:
        return None  # no ambient credential to abuse; the login form has its own CSRF token
    if not same_origin(request):
        return flask.jsonify({"error": "cross-origin request refused"}), 403
    return None


def _headers(response: flask.Response) -> flask.Response:
    app = flask.current_app
    hashes_of: Callable[[], Sequence[str]] | None = app.extensions.get(CSP_HASHES_KEY)
    headers = response.headers
    headers.setdefault("Content-Security-Policy", content_security_policy(hashes_of() if hashes_of else ()))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    path = flask.request.path
    if not path.startswith(("/assets/", "/_dash-component-suites/")):
        # Pages and callback responses hold registry data: keep them out of shared caches.
        headers.setdefault("Cache-Control", "no-store")
    return response


def install(app: flask.Flask, script_hashes: Callable[[], Sequence[str]] | None = None) -> None:
    """Origin check before, security headers after, every request of ``app``."""
    if script_hashes is not None:
        app.extensions[CSP_HASHES_KEY] = script_hashes
    app.before_request(_check_origin)
    app.after_request(_headers)
