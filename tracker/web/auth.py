"""Sign-in, sign-out and the one helper that turns a request into a Scope.

- Sessions are Flask's signed cookie (HttpOnly, SameSite=Lax, Secure behind https) holding only
  the user id; role and provider are re-read from the database on every request, so disabling an
  account or changing its role takes effect at once.
- The login and logout forms carry a CSRF token kept in the session (synchronizer token).
- Failed sign-ins are limited to ``settings.login_attempts_per_minute`` per username and client
  IP, counted in this process's memory: a restart forgets them and each process of a multi-process
  deployment counts on its own (documented in docs/dashboard.md).
- ``current_scope()`` is the only way a view or callback learns who is asking; it never reads
  request input, so a forged callback payload cannot change whose data a query returns.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import flask
from sqlmodel import Session
from werkzeug.exceptions import Unauthorized

from tracker.auth.scope import Scope
from tracker.auth.users import authenticate, scope_for
from tracker.config import Settings, get_settings
from tracker.store import audit
from tracker.store.db import get_engine, session_scope
from tracker.store.models import User

bp = flask.Blueprint("tracker_auth", __name__)
SETTINGS_KEY = "TRACKER_SETTINGS"
# Paths served without a session: the sign-in page, static bundles and the token-authenticated API.
PUBLIC_PREFIXES = ("/login", "/assets/", "/_dash-component-suites/", "/_favicon.ico", "/favicon.ico",
                   "/api/", "/healthz")
DASH_JSON_PREFIXES = ("/_dash-",)


class LoginRateLimiter:
    """Failed attempts per key in a sliding 60-second window, in memory, thread-safe."""

    def __init__(self, per_minute: int, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        entries = self._failures.setdefault(key, deque())
        while entries and now - entries[0] > self.window_s:
            entries.popleft()
        return entries

    def blocked(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return len(self._recent(key, time.monotonic())) >= self.per_minute

    def fail(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._recent(key, time.monotonic()).append(time.monotonic())
            if len(self._failures) > 100_000:  # bound memory under a username-spraying attack
                self._failures.clear()

    def reset(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


def settings() -> Settings:
    app = flask.current_app
    value = app.config.get(SETTINGS_KEY) or app.extensions.get("tracker_settings")
    return value if isinstance(value, Settings) else get_settings()


@contextmanager
def db_session() -> Iterator[Session]:
    """A transaction on the server's database (the one in the app's settings)."""
    with session_scope(get_engine(settings().database_url)) as session:
        yield session


def current_user_id() -> int | None:
    value = flask.session.get("user_id")
    return value if isinstance(value, int) else None


def current_scope() -> Scope:
    """The caller's scope, from the session cookie and the database; 401 when not signed in."""
    cached = flask.g.get("tracker_scope")
    if isinstance(cached, Scope):
        return cached
    user_id = current_user_id()
    if user_id is None:
        raise Unauthorized("sign in first")
    with db_session() as session:
        user = session.get(User, user_id)
        if user is None or user.disabled:
            flask.session.clear()
            raise Unauthorized("this account no longer exists or is disabled")
        scope = scope_for(user)
    flask.g.tracker_scope = scope
    return scope


def csrf_token() -> str:
    token = flask.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        flask.session["csrf"] = token
    return token


def _check_csrf() -> bool:
    sent = flask.request.form.get("csrf_token", "")
    expected = flask.session.get("csrf")
    return isinstance(expected, str) and hmac.compare_digest(sent, expected)


def _safe_next(target: str | None) -> str:
    # Only same-site relative paths: "//evil.example" and "https://..." would be open redirects.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in · Compute threshold tracker</title><link rel="stylesheet" href="/assets/theme.css"></head>
<body class="login-body"><main class="login-card">
<h1>Compute threshold tracker</h1><p class="muted">Sign in with the account your administrator gave you.</p>
{% if error %}<p class="error-text" role="alert" id="login-error">{{ error }}</p>{% endif %}
<form method="post" action="/login">
<input type="hidden" name="csrf_token" value="{{ csrf }}"><input type="hidden" name="next" value="{{ next }}">
<label>Username <input name="username" id="username" autocomplete="username" required value="{{ username }}"></label>
<label>Password <input name="password" id="password" type="password" autocomplete="current-password" required>
</label><button type="submit" id="login-submit" class="button primary">Sign in</button>
</form></main></body></html>"""


def _login_page(error: str | None = None, status: int = 200, username: str = "") -> flask.Response:
    html = flask.render_template_string(LOGIN_PAGE, error=error, csrf=csrf_token(), username=username,
                                        next=_safe_next(flask.request.values.get("next")))
    return flask.Response(html, status=status, mimetype="text/html")


@bp.get("/login")
def login_form() -> Any:
    if current_user_id() is not None:
        return flask.redirect(_safe_next(flask.request.args.get("next")))
    return _login_page()


@bp.post("/login")
def login_submit() -> Any:
    if not _check_csrf():
        return _login_page("Your sign-in form expired. Please try again.", 400)
    username = flask.request.form.get("username", "").strip()
    password = flask.request.form.get("password", "")
    limiter: LoginRateLimiter = flask.current_app.extensions["tracker_login_limiter"]
    key = (username.lower(), flask.request.remote_addr or "?")
    if limiter.blocked(key):
        return _login_page("Too many failed sign-ins. Wait a minute and try again.", 429, username)
    with db_session() as session:
        user = authenticate(session, username, password)
        if user is not None:
            audit.record(session, actor=user.username, action="user.login", entity="user",
                         entity_id=user.id or 0, details={"ip": flask.request.remote_addr})
            user_id = user.id
    if user is None:
        limiter.fail(key)
        return _login_page("That username and password do not match.", 401, username)
    limiter.reset(key)
    flask.session.clear()  # a fresh session on sign-in: no fixation of a pre-login cookie
    flask.session["user_id"] = user_id
    flask.session["csrf"] = secrets.token_urlsafe(32)
    flask.session.permanent = True
    return flask.redirect(_safe_next(flask.request.form.get("next")))


@bp.post("/logout")
def logout() -> Any:
    if not _check_csrf():
        return flask.Response("Sign-out form expired; reload the page and try again.", 400)
    flask.session.clear()
    return flask.redirect("/login")


def _signed_in() -> bool:
    if current_user_id() is None:
        return False
    try:
        current_scope()  # also checks the account still exists and is enabled
    except Unauthorized:
        return False
    return True


def _require_login() -> Any:
    path = flask.request.path
    if path.startswith(PUBLIC_PREFIXES) or _signed_in():
        return None
    if path.startswith(DASH_JSON_PREFIXES):
        return flask.jsonify({"error": "sign in first"}), 401
    if path == "/" and flask.request.method == "GET":
        # The front door answers 200 with the sign-in form rather than a redirect.
        return _login_page()
    return flask.redirect(f"/login?next={flask.request.full_path.rstrip('?')}")


def install(app: flask.Flask, app_settings: Settings | None = None) -> None:
    """Session cookie settings, the sign-in routes and the gate in front of every page."""
    conf = app_settings or app.extensions.get("tracker_settings") or get_settings()
    app.config[SETTINGS_KEY] = conf
    app.config.update(
        SECRET_KEY=conf.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=conf.base_url.startswith("https://"),
        SESSION_COOKIE_NAME="tracker_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
    )
    app.extensions["tracker_login_limiter"] = LoginRateLimiter(conf.login_attempts_per_minute)
    app.register_blueprint(bp)
    app.before_request(_require_login)
