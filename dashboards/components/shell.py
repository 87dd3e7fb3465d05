"""The frame around every page: navigation by role, who is signed in, the sign-out form."""

from __future__ import annotations

from typing import Any

import dash
from dash import dcc, html
from werkzeug.exceptions import Unauthorized

from tracker.auth.scope import Scope
from tracker.store import queries
from tracker.web.auth import csrf_token, current_scope, db_session

ANONYMOUS = "anonymous"  # a visitor who is not signed in: sees the public register's link only
# (label, path, roles that see the link)
NAV = (
    ("Overview", "/", ("regulator", "admin", "provider")),
    ("Systems", "/systems", ("regulator", "admin", "provider")),
    ("Alerts", "/alerts", ("regulator", "admin", "provider")),
    ("Filings", "/filings", ("regulator", "admin", "provider")),
    ("Regimes", "/regimes", ("regulator", "admin", "provider")),
    ("Provider portal", "/portal", ("provider",)),
    ("Registrations", "/my-registrations", ("provider",)),
    ("Review queue", "/registrations", ("regulator", "admin")),
    ("Public register", "/register", ("regulator", "admin", "provider", ANONYMOUS)),
    ("Admin", "/admin", ("admin",)),
    ("Regime thresholds", "/regime-thresholds", ("admin",)),
)


def _scope_or_none() -> Scope | None:
    try:
        return current_scope()
    except Unauthorized:
        return None  # Dash also builds the layout once at start-up, outside any sign-in


def shell() -> Any:
    scope = _scope_or_none()
    role = scope.role if scope else ANONYMOUS
    links = [dcc.Link(label, href=path, className="nav-link") for label, path, roles in NAV if role in roles]
    account = html.Div([
        html.Span(f"{scope.actor} · {scope.role}", className="whoami", id="whoami"),
        # A Flask page, not a Dash one: a full page load, so a plain link.
        html.A("Password", href="/account/password", className="nav-link", id="change-password"),
        html.Form([dcc.Input(type="hidden", name="csrf_token", value=csrf_token(), id="logout-csrf"),
                   html.Button("Sign out", type="submit", className="button ghost", id="logout")],
                  method="POST", action="/logout", className="logout-form"),
    ], className="account") if scope else html.A("Sign in", href="/login", className="nav-link")
    return html.Div([
        html.Header([html.A("Compute threshold tracker", href="/", className="brand"),
                     html.Nav(links, className="nav"), account], className="topbar"),
        html.Main(dash.page_container, className="content"),
    ])


def own_provider(scope: Scope) -> dict[str, Any] | None:
    """The provider a provider account files and registers for (None for other roles): always from
    the session's scope, never from a form."""
    if scope.role != "provider":
        return None
    with db_session() as session:
        own = queries.list_providers(session, scope)
    return own[0] if own else None
