"""Response headers and the same-origin rule for state-changing requests.

Content-Security-Policy: scripts only from this server plus the hashes of Dash's own inline
bootstrap script (``Dash.csp_hashes()``), so no CDN and no injected script runs; no 'unsafe-eval'
(the dashboard avoids ag-grid's string functions, the only code here that would need it).
Styles allow 'unsafe-inline' because Plotly and AG Grid inject <style> elements at run time.

Dash callbacks are JSON POSTs authenticated by the session cookie. SameSite=Lax already keeps the
cookie off cross-site POSTs; as a second lock every cookie-authenticated POST/PUT/PATCH/DELETE
must carry an Origin (or, failing that, a Referer) naming this server. Requests that authenticate
with a bearer token carry no ambient credential and are exempt.

Strict-Transport-Security goes out when the request came over https or the configured base URL is
https (TLS ends at a reverse proxy). X-Forwarded-* headers are trusted only when
``TRACKER_TRUSTED_PROXY_COUNT`` says how many proxies stand in front (docs/dashboard.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import flask
from werkzeug.middleware.proxy_fix import ProxyFix

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSP_HASHES_KEY = "tracker_csp_script_hashes"
HSTS = "max-age=31536000; includeSubDomains"  # one year; no preload: that is the operator's decision
BASELINE_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)


def bare_error_headers(https: bool) -> list[tuple[str, str]]:
    """Headers for responses written outside Flask (the WSGI server's own errors): no script at all."""
    headers = [("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
               ("Cache-Control", "no-store"), *BASELINE_HEADERS]
    return [*headers, ("Strict-Transport-Security", HSTS)] if https else headers


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
    for name, value in BASELINE_HEADERS:
        headers.setdefault(name, value)
    settings = app.extensions.get("tracker_settings")
    base_url = str(getattr(settings, "base_url", ""))
    if flask.request.is_secure or base_url.startswith("https://"):
        headers.setdefault("Strict-Transport-Security", HSTS)
    path = flask.request.path
    if not path.startswith(("/assets/", "/_dash-component-suites/")):
        # Pages and callback responses hold registry data: keep them out of shared caches.
        headers.setdefault("Cache-Control", "no-store")
    return response


def trust_proxies(app: flask.Flask, count: int) -> None:
    """Believe X-Forwarded-For/-Proto/-Host from exactly ``count`` proxies in front (0: none).

    Without it a client could set X-Forwarded-For itself and sign-in limits would count per
    address it chose; with too high a count the same holds, so the operator states the number."""
    if count > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)  # type: ignore[method-assign]


def install(app: flask.Flask, script_hashes: Callable[[], Sequence[str]] | None = None) -> None:
    """Origin check before, security headers after, every request of ``app``."""
    if script_hashes is not None:
        app.extensions[CSP_HASHES_KEY] = script_hashes
    app.before_request(_check_origin)
    app.after_request(_headers)
