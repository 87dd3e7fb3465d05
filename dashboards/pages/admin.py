"""Administration: accounts and alert sinks (administrators only; checked in every callback)."""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, dcc, html, no_update

from dashboards.components.formatting import card, empty_state, error_message, page_header, table, when
from tracker.auth.passwords import WeakPasswordError
from tracker.auth.scope import ROLES, Scope
from tracker.auth.users import UserError, create_user, list_users
from tracker.store import queries
from tracker.store.models import Subscription
from tracker.web.auth import current_scope, db_session

dash.register_page(__name__, path="/admin", name="Admin", title="Admin · Compute threshold tracker", order=6)
ADMIN_ONLY = "This page is for administrator accounts."


def layout(**_: Any) -> html.Div:
    scope = current_scope()
    if scope.role != "admin":
        return html.Div([page_header("Admin"), error_message(ADMIN_ONLY)])
    with db_session() as session:
        providers = queries.list_providers(session, scope)
    return html.Div([
        page_header("Admin", "Accounts and alert sinks. Regimes come from data/regimes.yaml (see Regimes)."),
        card("Accounts",
             html.Div([dcc.Input(id="new-username", placeholder="username"),
                       dcc.Dropdown(id="new-role", options=list(ROLES), value="regulator", clearable=False),
                       dcc.Dropdown(id="new-provider", placeholder="provider (provider accounts)",
                                    options=[{"label": p["slug"], "value": p["slug"]} for p in providers]),
                       dcc.Input(id="new-password", type="password", placeholder="password (12+ characters)"),
                       html.Button("Add account", id="add-user", className="button primary")],
                      className="inline-form"),
             html.Div(id="user-result", role="status"), html.Div(_users(scope), id="users")),
        card("Alert sinks",
             html.Div([dcc.Input(id="new-sink", placeholder="webhook:https://… or email:… or log:/path"),
                       dcc.Dropdown(id="new-sink-scope", options=["all", "regime", "provider", "system"],
                                    value="all", clearable=False),
                       dcc.Input(id="new-sink-value", placeholder="regime id, provider slug or system id"),
                       html.Button("Add sink", id="add-sink", className="button primary")],
                      className="inline-form"),
             html.Div(id="sink-result", role="status"), html.Div(_sinks(scope), id="sinks")),
    ])


def _users(scope: Scope) -> Any:
    with db_session() as session:
        users = list_users(session, scope)
    return table(["Username", "Role", "Provider", "Disabled", "Created"],
                 [[u["username"], u["role"], u["provider"] or "—", "yes" if u["disabled"] else "no",
                   when(u["created_at"])] for u in users], table_id="users-table")


def _sinks(scope: Scope) -> Any:
    with db_session() as session:
        sinks = queries.list_subscriptions(session, scope)
    if not sinks:
        return empty_state("No sinks configured here.",
                           "Alerts still go to TRACKER_ALERT_WEBHOOK_URL and the other sinks in the settings.")
    return table(["Sink", "Follows", "Added", ""], [
        [s["sink"], s["scope_kind"] + (f": {s['scope_value']}" if s["scope_value"] else ""), when(s["created_at"]),
         html.Button("Remove", id={"type": "remove-sink", "sink": s["id"]}, className="button small danger")]
        for s in sinks])


@callback(Output("user-result", "children"), Output("users", "children"), Input("add-user", "n_clicks"),
          State("new-username", "value"), State("new-role", "value"), State("new-provider", "value"),
          State("new-password", "value"), prevent_initial_call=True)
def add_user(_: int | None, username: str | None, role: str | None, provider: str | None,
             password: str | None) -> tuple[Any, Any]:
    scope = current_scope()
    if scope.role != "admin":
        return error_message(ADMIN_ONLY), no_update
    try:
        with db_session() as session:
            create_user(session, username=username or "", role=role or "", password=password or "",
                        provider_slug=provider if role == "provider" else None, actor=scope.actor)
    except (UserError, WeakPasswordError) as exc:
        return error_message(str(exc)), no_update
    return html.Div(f"Account {username} created.", className="notice"), _users(scope)


@callback(Output("sink-result", "children"), Output("sinks", "children"), Input("add-sink", "n_clicks"),
          Input({"type": "remove-sink", "sink": ALL}, "n_clicks"), State("new-sink", "value"),
          State("new-sink-scope", "value"), State("new-sink-value", "value"), prevent_initial_call=True)
def sinks(_add: int | None, remove: list[int | None], sink: str | None, scope_kind: str | None,
          scope_value: str | None) -> tuple[Any, Any]:
    from tracker.alerts.subscriptions import subscribe
    from tracker.store import audit

    scope = current_scope()
    if scope.role != "admin":
        return error_message(ADMIN_ONLY), no_update
    trigger = dash.ctx.triggered_id
    try:
        with db_session() as session:
            if trigger == "add-sink":
                subscribe(session, (sink or "").strip(), scope_kind=scope_kind or "all",
                          scope_value=(scope_value or "").strip() or None, actor=scope.actor)
                message = "Sink added."
            elif isinstance(trigger, dict) and any(remove or []):
                row = session.get(Subscription, int(trigger["sink"]))
                if row is None:
                    return error_message("That sink was already removed."), _sinks(scope)
                audit.record(session, actor=scope.actor, action="subscription.remove", entity="subscription",
                             entity_id=row.id or 0, details={"sink": row.sink})
                session.delete(row)
                message = "Sink removed."
            else:
                return no_update, no_update
    except ValueError as exc:
        return error_message(str(exc)), no_update
    return html.Div(message, className="notice"), _sinks(scope)
