"""The regulator's review queue: submitted and contested registrations by deadline, each with its
detail and a decision (register, request more information, accept the contest, reject) that needs
a written reason. Regulators and administrators only; the decision callback checks the role again
on the server, whatever the page showed."""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards.components.formatting import card, empty_state, error_message, link, page_header
from dashboards.components.registrations import (
    NOT_VISIBLE,
    detail_view,
    field_errors,
    registration_id,
    registration_table,
)
from tracker.auth.scope import Scope
from tracker.registration.decide import decide
from tracker.registration.states import DECISIONS, allowed_actions
from tracker.registration.submit import RegistrationConflict, RegistrationNotFound, RegistrationRejected
from tracker.store.queries.registrations import registration_detail, review_queue
from tracker.web.auth import current_scope, db_session, settings

dash.register_page(__name__, path="/registrations", name="Review queue",
                   title="Review queue · Compute threshold tracker", order=7)

DECISION_LABELS = {"register": "Register", "request_info": "Request more information",
                   "accept_contest": "Accept the contest (not designated)", "reject": "Reject"}
FORM_FIELDS = ("decision", "reason")
REGULATORS_ONLY = ("The review queue is for regulators. Providers see their own registrations on the "
                   "Registrations page.")


def _queue(scope: Scope) -> Any:
    with db_session() as session:
        rows = review_queue(session, scope)
    if not rows:
        return empty_state("Nothing to review.", "Submitted and contested registrations appear here, "
                                                 "earliest deadline first.")
    return registration_table(rows, "/registrations", with_provider=True, table_id="review-queue")


def _decision_form(detail: dict[str, Any]) -> Any:
    options = [a for a in allowed_actions(detail.get("state")) if a in DECISIONS]
    if not options:
        return card("Decision", empty_state(f"A registration in state {detail.get('state')} takes no decision."))
    return card(
        "Decision",
        dcc.Store(id="decide-id", data=detail.get("id")),
        html.Label(["Decision", dcc.Dropdown(id="decide-decision", clearable=False, value=options[0],
                                             options=[{"label": DECISION_LABELS[a], "value": a} for a in options])]),
        html.Div(id="decide-error-decision"),
        html.Label(["Written reason (kept in the history and the audit log)",
                    dcc.Textarea(id="decide-reason", className="textarea", maxLength=10_000,
                                 placeholder="Why this decision: what was checked, what is missing, ...")]),
        html.Div(id="decide-error-reason"),
        html.Button("Record decision", id="decide-submit", className="button primary"),
        class_name="decision-form",
    )


def _detail(scope: Scope, rid: int) -> tuple[Any, Any]:
    with db_session() as session:
        detail = registration_detail(session, scope, rid)
    if detail is None:
        return error_message(NOT_VISIBLE), None
    return detail_view(detail), _decision_form(detail)


def layout(id: Any = None, **_: Any) -> html.Div:  # "id": the query parameter ?id=N
    scope = current_scope()
    if not scope.sees_everything:
        return html.Div([page_header("Review queue"), empty_state(REGULATORS_ONLY)])
    rid = registration_id(id)
    opened: list[Any] = []
    if id is not None:
        detail, form = _detail(scope, rid) if rid is not None else (error_message(NOT_VISIBLE), None)
        opened = [html.Div(detail, id="decide-detail"), html.Div(id="decide-result", role="status"),
                  html.Div(form, id="decide-form-box"), link("Back to the queue", "/registrations")]
    return html.Div([
        page_header("Review queue", "Submitted and contested registrations, earliest deadline first. Open one to "
                                    "read what the provider submitted and record a decision."),
        *opened,
        card("Waiting for a decision", _queue(scope)),
    ])


def _refused(message: str) -> tuple[Any, ...]:
    return error_message(message), no_update, no_update, None, None


@callback(Output("decide-result", "children"), Output("decide-detail", "children"),
          Output("decide-form-box", "children"),
          Output("decide-error-decision", "children"), Output("decide-error-reason", "children"),
          Input("decide-submit", "n_clicks"), State("decide-id", "data"), State("decide-decision", "value"),
          State("decide-reason", "value"), prevent_initial_call=True)
def record_decision(clicks: Any, rid: Any, decision: Any, reason: Any) -> tuple[Any, ...]:
    scope = current_scope()  # who decides comes from the session, never from the form
    if not scope.sees_everything:
        return _refused("Only regulators and administrators decide registrations.")
    if not clicks:
        return (no_update,) * 5
    number = registration_id(rid)
    if number is None:
        return _refused(NOT_VISIBLE)
    if not isinstance(decision, str) or not isinstance(reason, str | None):
        return _refused("The form sent values of the wrong type; reload the page.")
    try:
        with db_session() as session:
            row = decide(session, number, decision, reason, scope.actor, settings=settings())
    except RegistrationRejected as exc:
        errors, other = field_errors(exc.problems, FORM_FIELDS)
        return (error_message("; ".join(other)) if other else None), no_update, no_update, *errors
    except RegistrationNotFound:
        return _refused(NOT_VISIBLE)
    except RegistrationConflict as exc:
        return _refused(str(exc))
    with db_session() as session:
        detail = registration_detail(session, scope, number)
    label = DECISION_LABELS.get(decision, decision)
    number_text = f" Registration number {row['registration_number']}." if row.get("registration_number") else ""
    message = html.Div(f"{label}: recorded by {scope.actor}; the registration is now {row['state']}.{number_text}",
                       className="notice", id="decide-notice")
    if detail is None:
        return message, no_update, no_update, None, None
    # A fresh form: the decisions the new state allows, with empty fields and error slots.
    return message, detail_view(detail), _decision_form(detail), no_update, no_update
