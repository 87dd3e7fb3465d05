"""Sign-in, sign-out and the one helper that turns a request into a Scope.

- Sessions live on the server (table ``web_session``, tracker/auth/sessions.py). Flask's signed
  cookie (HttpOnly, SameSite=Lax, Secure behind https) carries only the session's random token
  and the CSRF token; every request looks the session up, so signing out, a password change, a
  role change or disabling the account ends it at once, and it never outlives its absolute
  lifetime however busy it is.
- The login, logout and password forms carry a CSRF token kept in the same signed cookie
  (synchronizer token), issued afresh with each new session. Nothing of it is on the server: any
  process holding the same ``TRACKER_SECRET_KEY`` verifies the cookie's signature and compares the
  form's token with the cookie's, so a form served by one process is accepted by another.
- Failed sign-ins are limited to ``settings.login_attempts_per_minute`` per username and client
  IP, and wrong current passwords on the password form likewise per account, in the database
  (tracker/auth/attempts.py): every process behind the proxy counts the same failures.
- ``current_scope()`` is the only way a view or callback learns who is asking; it never reads
  request input, so a forged callback payload cannot change whose data a query returns.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import flask
from sqlmodel import Session
from werkzeug.exceptions import Unauthorized

from tracker.auth import attempts
from tracker.auth import sessions as web_sessions
from tracker.auth.passwords import WeakPasswordError
from tracker.auth.scope import Scope
from tracker.auth.users import UserError, authenticate, change_own_password, scope_for
from tracker.config import Settings, get_settings
from tracker.store import audit
from tracker.store.db import get_engine, session_scope
from tracker.store.db import read_session as store_read_session
from tracker.store.types import utcnow
from tracker.web.public import is_public_request

bp = flask.Blueprint("tracker_auth", __name__)
SETTINGS_KEY = "TRACKER_SETTINGS"
# Paths served without a session: the sign-in page, static bundles and the token-authenticated API.
PUBLIC_PREFIXES = ("/login", "/assets/", "/_dash-component-suites/", "/_favicon.ico", "/favicon.ico",
                   "/api/", "/healthz")
DASH_JSON_PREFIXES = ("/_dash-",)


def settings() -> Settings:
    app = flask.current_app
    value = app.config.get(SETTINGS_KEY) or app.extensions.get("tracker_settings")
    return value if isinstance(value, Settings) else get_settings()


@contextmanager
def db_session() -> Iterator[Session]:
    """A transaction on the server's database (the one in the app's settings)."""
    with session_scope(get_engine(settings().database_url)) as session:
        yield session


@contextmanager
def read_session() -> Iterator[Session]:
    """A read-only transaction for views that show data and write nothing: on the read replica when
    one is configured (it may lag the primary; docs/deployment.md), else on the primary. Sign-in,
    sessions, rate limits and whatever must show the caller's own fresh write use ``db_session``."""
    with store_read_session(settings()) as session:
        yield session


SESSION_COOKIE_FIELD = "sid"


def _take_attempt(purpose: str, account: str) -> tuple[str, bool]:
    """Take one attempt of ``purpose`` for ``account`` from this client address: (bucket key, allowed)."""
    key = attempts.attempt_key(purpose, account, flask.request.remote_addr or "?")
    rate = attempts.attempt_rate(settings().login_attempts_per_minute)
    return key, attempts.take(get_engine(settings().database_url), key, rate) == 0.0


def _give_back(key: str) -> None:
    attempts.give_back(get_engine(settings().database_url), key)


def session_policy() -> web_sessions.SessionPolicy:
    conf = settings()
    return web_sessions.SessionPolicy(lifetime=timedelta(hours=conf.session_lifetime_hours),
                                      idle=timedelta(minutes=conf.session_idle_minutes))


def _live_session() -> tuple[int, Scope] | None:
    """(user id, scope) of this request's server-side session, looked up once per request."""
    if "tracker_session" in flask.g:
        cached: tuple[int, Scope] | None = flask.g.tracker_session
        return cached
    token = flask.session.get(SESSION_COOKIE_FIELD)
    found: tuple[int, Scope] | None = None
    if isinstance(token, str):
        with db_session() as session:
            user = web_sessions.resolve(session, token, policy=session_policy(), now=utcnow())
            if user is not None and user.id is not None:
                found = (user.id, scope_for(user))
        if found is None:
            flask.session.clear()  # an ended session's cookie is dropped, not replayed
    flask.g.tracker_session = found
    return found


def current_user_id() -> int | None:
    """The signed-in user's id, or None (no session, or one that has ended)."""
    live = _live_session()
    return live[0] if live else None


def current_scope() -> Scope:
    """The caller's scope, from the server-side session and the database; 401 when not signed in."""
    live = _live_session()
    if live is None:
        raise Unauthorized("sign in first")
    return live[1]


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


def _same_site_path(target: str) -> bool:
    # Browsers drop tabs and newlines inside URLs and read "\\" as "/", so "/\t/evil" and "/\\evil"
    # become "//evil" (another host): only printable ASCII without backslashes gets this far.
    if not target.startswith("/") or target.startswith("//"):
        return False
    if any(not 0x21 <= ord(ch) <= 0x7E or ch == "\\" for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None) -> str:
    """``target`` when it is a same-site relative path, else "/": the only redirect targets taken
    from request input. Percent-encoded forms are decoded (a proxy or browser might) and must
    stay same-site too."""
    if not target or len(target) > 2048:
        return "/"
    decoded = target
    for _ in range(3):
        if not _same_site_path(decoded):
            return "/"
        decoded = unquote(decoded)
    return target if _same_site_path(decoded) else "/"



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
                                        next=safe_next(flask.request.values.get("next")))
    return flask.Response(html, status=status, mimetype="text/html")


@bp.get("/login")
def login_form() -> Any:
    if current_user_id() is not None:
        return flask.redirect(safe_next(flask.request.args.get("next")))
    return _login_page()


@bp.post("/login")
def login_submit() -> Any:
    if not _check_csrf():
        return _login_page("Your sign-in form expired. Please try again.", 400)
    username = flask.request.form.get("username", "").strip()
    password = flask.request.form.get("password", "")
    key, allowed = _take_attempt("login", username.lower())
    if not allowed:
        return _login_page("Too many failed sign-ins. Wait a minute and try again.", 429, username)
    with db_session() as session:
        user = authenticate(session, username, password)
        if user is not None:
            token = web_sessions.start(session, user_id=user.id or 0, policy=session_policy(), now=utcnow(),
                                       user_agent=flask.request.user_agent.string,
                                       ip=flask.request.remote_addr)
            audit.record(session, actor=user.username, action="user.login", entity="user",
                         entity_id=user.id or 0, details={"ip": flask.request.remote_addr})
    if user is None:
        return _login_page("That username and password do not match.", 401, username)
    _give_back(key)
    flask.session.clear()  # a fresh session on sign-in: no fixation of a pre-login cookie
    flask.session[SESSION_COOKIE_FIELD] = token
    flask.session["csrf"] = secrets.token_urlsafe(32)
    flask.session.permanent = True
    return flask.redirect(safe_next(flask.request.form.get("next")))


@bp.post("/logout")
def logout() -> Any:
    if not _check_csrf():
        return flask.Response("Sign-out form expired; reload the page and try again.", 400)
    user_id = current_user_id()
    if user_id is not None:
        # Signing out ends every session of the account: a cookie left on another machine dies too.
        with db_session() as session:
            web_sessions.end_all(session, user_id=user_id, reason="signed out", now=utcnow())
            audit.record(session, actor=current_scope().actor, action="user.logout", entity="user",
                         entity_id=user_id, details={"ip": flask.request.remote_addr})
    flask.session.clear()
    return flask.redirect("/login")


ACCOUNT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Change password · Compute threshold tracker</title><link rel="stylesheet" href="/assets/theme.css"></head>
<body class="login-body"><main class="login-card">
<h1>Change your password</h1><p class="muted">Your other sessions end when the password changes.</p>
{% if error %}<p class="error-text" role="alert" id="password-error">{{ error }}</p>{% endif %}
{% if done %}<p class="notice" role="status" id="password-done">Password changed.</p>{% endif %}
<form method="post" action="/account/password"><input type="hidden" name="csrf_token" value="{{ csrf }}">
<label>Current password <input name="current" id="current-password" type="password"
 autocomplete="current-password" required></label>
<label>New password (12+ characters) <input name="new" id="new-password" type="password"
 autocomplete="new-password" required></label>
<button type="submit" id="password-submit" class="button primary">Change password</button>
</form><p><a href="/">Back to the dashboard</a></p></main></body></html>"""


def _password_page(error: str | None = None, status: int = 200, done: bool = False) -> flask.Response:
    html = flask.render_template_string(ACCOUNT_PAGE, error=error, done=done, csrf=csrf_token())
    return flask.Response(html, status=status, mimetype="text/html")


@bp.get("/account/password")
def password_form() -> Any:
    return _password_page()


@bp.post("/account/password")
def password_submit() -> Any:
    user_id = current_user_id()
    if user_id is None:
        return flask.redirect("/login?next=/account/password")
    if not _check_csrf():
        return _password_page("The form expired. Please try again.", 400)
    token = flask.session.get(SESSION_COOKIE_FIELD)
    key, allowed = _take_attempt("password", str(user_id))
    if not allowed:  # a stolen cookie must not become a password-guessing oracle
        return _password_page("Too many wrong passwords. Wait a minute and try again.", 429)
    try:
        with db_session() as session:
            change_own_password(session, user_id=user_id, current_password=flask.request.form.get("current", ""),
                                new_password=flask.request.form.get("new", ""),
                                keep_token=token if isinstance(token, str) else None)
    except UserError as exc:  # the attempt stays taken
        return _password_page(str(exc), 400)
    except WeakPasswordError as exc:
        _give_back(key)  # the current password was right; only the new one was refused
        return _password_page(str(exc), 400)
    _give_back(key)
    return _password_page(done=True)


def _require_login() -> Any:
    path = flask.request.path
    # The public register's page and callbacks are the only dashboard requests served anonymously.
    if path.startswith(PUBLIC_PREFIXES) or _live_session() is not None or is_public_request(flask.request):
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
        # The cookie may outlive nothing: the server-side row's absolute expiry is the real limit.
        PERMANENT_SESSION_LIFETIME=timedelta(hours=conf.session_lifetime_hours),
    )
    app.register_blueprint(bp)
    app.before_request(_require_login)
