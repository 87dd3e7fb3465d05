"""A provider's registrations: its own list and decisions, each with its detail, and the form that
submits a registration (notification, contest, voluntary registration) through the portal channel.

The provider is the signed-in user's, read from the session on every call; a system is chosen
among that provider's own systems and looked up again on submission, so a forged id of another
provider's system is refused like an unknown one.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from dashboards.components.formatting import card, empty_state, error_message, page_header
from dashboards.components.registrations import (
    NOT_VISIBLE,
    detail_view,
    field_errors,
    registration_id,
    registration_table,
)
from dashboards.components.shell import own_provider
from tracker.auth.scope import Scope
from tracker.filing.problems import Problem
from tracker.registration.submit import RegistrationConflict, RegistrationRejected, submit_registration
from tracker.registration.validate import ATTACHMENTS_MAX, Attachment, parse_fields
from tracker.store import queries
from tracker.store.db import get_engine
from tracker.store.queries.registrations import list_registrations, registration_detail
from tracker.web.auth import current_scope, db_session, settings

dash.register_page(__name__, path="/my-registrations", name="Registrations",
                   title="Registrations · Compute threshold tracker", order=6)

FIELDS = ("system", "regime", "compute_flop", "compute_method", "crossed_on", "contact", "contest", "attachments")
METHODS = ("hardware", "architecture", "reported")
MAX_SYSTEMS = 500
PROVIDERS_ONLY = ("Registrations are submitted by provider accounts. Regulators review them in the Review "
                  "queue.")


def _own_systems(scope: Scope) -> list[dict[str, Any]]:
    with db_session() as session:
        rows, _ = queries.systems_page(session, scope, 0, MAX_SYSTEMS, [{"colId": "name", "sort": "asc"}])
    return rows


def _regimes_with_obligation(scope: Scope) -> list[dict[str, Any]]:
    with db_session() as session:
        regimes = queries.list_regimes_with_counts(session, scope)
    return [r for r in regimes if r.get("obligation")]


def _error_slot(name: str) -> html.Div:
    return html.Div(id=f"myreg-error-{name}")


def _form(scope: Scope) -> html.Section:
    systems = _own_systems(scope)
    regimes = _regimes_with_obligation(scope)
    cap_kib = settings().registration_attachment_max_bytes // 1024
    return card(
        "Submit a registration",
        html.P("Notify a regulator that a system crossed a threshold, contest the designation with your "
               "arguments, or register a system voluntarily. Compute figures, contact and arguments are "
               "confidential: only you and the regulator see them.", className="muted"),
        html.Div([
            html.Label(["System", dcc.Dropdown(id="myreg-system", placeholder="one of your systems", options=[
                {"label": f"{s['name']}{' ' + s['version'] if s.get('version') else ''}", "value": str(s["id"])}
                for s in systems])]),
            html.Label(["Regime", dcc.Dropdown(id="myreg-regime", placeholder="the regime", options=[
                {"label": f"{r.get('instrument') or r['id']} ({r['id']})", "value": r["id"]} for r in regimes])]),
        ], className="inline-form"),
        html.Div([_error_slot("system"), _error_slot("regime")], className="inline-form"),
        html.Div([
            html.Label(["Compute (FLOP) you stand behind",
                        dcc.Input(id="myreg-compute", type="text", placeholder="e.g. 3.8e25", maxLength=40)]),
            html.Label(["Method", dcc.Dropdown(id="myreg-method", placeholder="how it was computed",
                                               options=[{"label": m, "value": m} for m in METHODS])]),
            html.Label(["Date of crossing", dcc.Input(id="myreg-crossed", type="text", placeholder="YYYY-MM-DD",
                                                      maxLength=10)]),
            html.Label(["Contact", dcc.Input(id="myreg-contact", type="text", maxLength=500,
                                             placeholder="name, e-mail or phone of who answers questions")]),
        ], className="inline-form"),
        html.Div([_error_slot("compute_flop"), _error_slot("compute_method"), _error_slot("crossed_on"),
                  _error_slot("contact")], className="inline-form"),
        dcc.Checklist(id="myreg-voluntary", options=[{"label": " voluntary registration (before any crossing)",
                                                      "value": "voluntary"}], value=[]),
        html.Label(["Contest arguments (optional): why the system does not present systemic risk despite "
                    "meeting the threshold",
                    dcc.Textarea(id="myreg-contest", className="textarea", maxLength=100_000)]),
        _error_slot("contest"),
        dcc.Upload(id="myreg-attachments", multiple=True, max_size=settings().registration_attachment_max_bytes,
                   className="upload-zone",
                   children=html.Div([f"Attachments (optional): PDF or text, at most {cap_kib:,} KiB each, "
                                      f"{ATTACHMENTS_MAX} files. Drop them here or ",
                                      html.A("choose", className="link")])),
        html.Div(id="myreg-attachment-names", className="muted"),
        _error_slot("attachments"),
        html.Button("Submit", id="myreg-submit", className="button primary"),
        html.Div(id="myreg-result", role="status"),
        class_name="registration-form",
    )


def _list(scope: Scope) -> Any:
    with db_session() as session:
        rows = list_registrations(session, scope)
    if not rows:
        return empty_state("No registrations yet.", "An obligation appears here when one of your systems crosses "
                                                    "a threshold; you can also register a system voluntarily.")
    return registration_table(rows, "/my-registrations", with_provider=False, table_id="my-registrations")


def layout(id: Any = None, **_: Any) -> html.Div:  # "id": the query parameter ?id=N
    scope = current_scope()
    provider = own_provider(scope)
    if provider is None:
        return html.Div([page_header("Registrations"), empty_state(PROVIDERS_ONLY)])
    opened: list[Any] = []
    if id is not None:
        rid = registration_id(id)
        with db_session() as session:
            detail = registration_detail(session, scope, rid) if rid is not None else None
        opened = [detail_view(detail) if detail else error_message(NOT_VISIBLE)]
    return html.Div([
        page_header(f"Registrations · {provider['name']}",
                    "Your obligations and registrations, the regulator's decisions, and new submissions."),
        *opened,
        card("Your registrations", html.Div(_list(scope), id="myreg-list")),
        _form(scope),
    ])


def _attachments(contents: Any, names: Any) -> tuple[list[Attachment], list[Problem]]:
    if not contents:
        return [], []
    if not isinstance(contents, list) or not isinstance(names, list) or len(contents) != len(names):
        return [], [Problem(None, "attachments", "the browser sent them in a form we could not read; "
                            "expected PDF or text files chosen again")]
    if len(contents) > ATTACHMENTS_MAX:
        return [], [Problem(None, "attachments", f"{len(contents)} files; expected at most {ATTACHMENTS_MAX}")]
    files, problems = [], []
    for index, (content, name) in enumerate(zip(contents, names, strict=True), start=1):
        try:
            raw = base64.b64decode(str(content).split(",", 1)[1], validate=True)
        except (IndexError, ValueError, binascii.Error):
            problems.append(Problem(None, f"attachment {index}", "could not be read; expected a PDF or text file"))
            continue
        files.append(Attachment(filename=str(name), content=raw))
    return files, problems


def _chosen_system(scope: Scope, value: Any) -> dict[str, Any] | None:
    """The caller's own system with this id (the scope filters in SQL; another provider's is None)."""
    system_id = registration_id(value)  # the same rule: a positive integer or nothing
    if system_id is None:
        return None
    with db_session() as session:
        rows, _ = queries.systems_page(session, scope, 0, 1, None,
                                       {"id": {"filterType": "number", "type": "equals", "filter": system_id}})
    return rows[0] if rows and rows[0]["id"] == system_id else None


@callback(Output("myreg-attachment-names", "children"), Input("myreg-attachments", "filename"),
          prevent_initial_call=True)
def attachment_names(names: Any) -> Any:
    current_scope()
    if not isinstance(names, list) or not names:
        return None
    return "Chosen: " + ", ".join(str(n)[:120] for n in names[:ATTACHMENTS_MAX])


@callback(Output("myreg-result", "children"), Output("myreg-list", "children"),
          *[Output(f"myreg-error-{f}", "children") for f in FIELDS],
          Input("myreg-submit", "n_clicks"), State("myreg-system", "value"), State("myreg-regime", "value"),
          State("myreg-compute", "value"), State("myreg-method", "value"), State("myreg-crossed", "value"),
          State("myreg-contact", "value"), State("myreg-contest", "value"), State("myreg-voluntary", "value"),
          State("myreg-attachments", "contents"), State("myreg-attachments", "filename"),
          prevent_initial_call=True)
def submit(clicks: Any, system: Any, regime: Any, compute: Any, method: Any, crossed: Any, contact: Any,
           contest: Any, voluntary: Any, contents: Any, names: Any) -> tuple[Any, ...]:
    scope = current_scope()
    provider = own_provider(scope)  # the provider comes from the session, never from the form
    blank = [None] * len(FIELDS)
    if provider is None:
        return error_message(PROVIDERS_ONLY), no_update, *blank
    if not clicks:
        return (no_update,) * (2 + len(FIELDS))
    chosen = _chosen_system(scope, system)
    problems: list[Problem] = []
    if chosen is None:
        problems.append(Problem(None, "system", "is not one of your systems; expected a system from the list"))
    files, attachment_problems = _attachments(contents, names)
    problems += attachment_problems
    raw = {"system": chosen["name"] if chosen else "", "version": (chosen or {}).get("version") or "",
           "regime": regime, "compute_flop": compute, "compute_method": method, "crossed_on": crossed,
           "contact": contact, "contest": contest,
           "voluntary": isinstance(voluntary, list) and "voluntary" in voluntary}
    parsed, parse_problems = parse_fields(raw, provider["slug"], files)
    problems += parse_problems
    if not isinstance(regime, str) or not regime:
        problems.append(Problem(None, "regime", "is missing; expected a regime from the list"))
    if problems or parsed is None:
        errors, other = field_errors(problems, FIELDS)
        return error_message("Nothing was submitted: correct the fields marked above." +
                             (f" {'; '.join(other)}" if other else "")), no_update, *errors
    try:
        row = submit_registration(
            get_engine(settings().database_url), provider=provider["slug"], system=parsed.system,
            version=parsed.version, regime=parsed.regime, channel="portal", submitted_by=scope.actor,
            compute_flop=parsed.compute_flop, compute_method=parsed.compute_method, crossed_on=parsed.crossed_on,
            contact=parsed.contact, contest_text=parsed.contest_text, attachments=parsed.attachments,
            voluntary=parsed.voluntary, settings=settings())
    except RegistrationRejected as exc:
        errors, other = field_errors(exc.problems, FIELDS)
        return error_message("Nothing was submitted: correct the fields marked above." +
                             (f" {'; '.join(other)}" if other else "")), no_update, *errors
    except RegistrationConflict as exc:
        return error_message(str(exc)), no_update, *blank
    message = html.Div([f"Submitted: registration #{row['id']} for {row['system']} under {row['regime']} is now "
                        f"{row['state']}.", html.A(" Open it", href=f"/my-registrations?id={row['id']}")],
                       className="notice", id="myreg-notice")
    return message, _list(scope), *blank
