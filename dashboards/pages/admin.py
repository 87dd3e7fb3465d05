"""Administration: accounts and alert sinks (administrators only; checked in every callback).

Account changes (disable, enable, role, password reset) are audited and end every session of the
account they touch (tracker/auth/users.py). The role check runs on the server in each callback:
the page's layout is not what protects them, since any signed-in user can post a callback.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, dcc, html, no_update

from dashboards.components.formatting import card, empty_state, error_message, page_header, table, when
from tracker.auth import users as accounts
from tracker.auth.passwords import WeakPasswordError
from tracker.auth.scope import ROLES, Scope
from tracker.auth.users import UserError, create_user, list_users
from tracker.store import queries
from tracker.store.models import Subscription
from tracker.web.auth import current_scope, db_session, settings

dash.register_page(__name__, path="/admin", name="Admin", title="Admin · Compute threshold tracker", order=6)
ADMIN_ONLY = "This page is for administrator accounts."
ACCOUNT_ACTIONS = {"disable": "Disable", "enable": "Enable", "set_role": "Change role",
                   "reset_password": "Reset password"}


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
        card("Change an account",
             html.P("Each change is audited and signs the account out everywhere.", className="muted"),
             html.Div([dcc.Input(id="manage-username", placeholder="username"),
                       dcc.Dropdown(id="manage-action", options=[{"label": label, "value": value}
                                                                 for value, label in ACCOUNT_ACTIONS.items()],
                                    value="disable", clearable=False),
                       dcc.Dropdown(id="manage-role", options=list(ROLES), placeholder="new role"),
                       dcc.Dropdown(id="manage-provider", placeholder="provider (provider accounts)",
                                    options=[{"label": p["slug"], "value": p["slug"]} for p in providers]),
                       dcc.Input(id="manage-password", type="password", placeholder="new password (12+ characters)"),
                       html.Button("Apply", id="manage-user", className="button primary")],
                      className="inline-form"),
             html.Div(id="manage-result", role="status")),
        card("Alert sinks",
             html.Div([dcc.Input(id="new-sink", placeholder="webhook:https://… or email:… or log:alerts.jsonl"),
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
                          scope_value=(scope_value or "").strip() or None, actor=scope.actor, settings=settings())
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


def _text(value: Any) -> str:
    # Callback inputs are whatever the client posts: anything but a string counts as empty.
    return value.strip() if isinstance(value, str) else ""


@callback(Output("manage-result", "children"), Output("users", "children", allow_duplicate=True),
          Input("manage-user", "n_clicks"), State("manage-username", "value"), State("manage-action", "value"),
          State("manage-role", "value"), State("manage-provider", "value"), State("manage-password", "value"),
          prevent_initial_call=True)
def manage_user(_: int | None, username: Any, action: Any, role: Any, provider: Any,
                password: Any) -> tuple[Any, Any]:
    scope = current_scope()
    if scope.role != "admin":
        return error_message(ADMIN_ONLY), no_update
    name = _text(username)
    if not name:
        return error_message("Username: enter the account to change."), no_update
    try:
        with db_session() as session:
            if action == "disable":
                accounts.set_disabled(session, username=name, disabled=True, actor=scope.actor)
            elif action == "enable":
                accounts.set_disabled(session, username=name, disabled=False, actor=scope.actor)
            elif action == "set_role":
                new_role = _text(role)
                accounts.set_role(session, username=name, role=new_role,
                                  provider_slug=_text(provider) or None if new_role == "provider" else None,
                                  actor=scope.actor)
            elif action == "reset_password":
                accounts.reset_password(session, username=name, password=password if isinstance(password, str)
                                        else "", actor=scope.actor)
            else:
                return error_message(f"Action: choose one of {', '.join(ACCOUNT_ACTIONS.values())}."), no_update
    except (UserError, WeakPasswordError) as exc:
        return error_message(f"{ACCOUNT_ACTIONS[action]}: {exc}."), no_update
    done = {"disable": "disabled", "enable": "enabled", "set_role": "given a new role",
            "reset_password": "given a new password"}[action]
    return html.Div(f"Account {name} {done}; its sessions have ended.", className="notice"), _users(scope)
