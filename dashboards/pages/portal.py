"""Provider portal: file a disclosure and see the receipt or every problem at once; templates,
JSON Schemas and API tokens. Everything is for the signed-in user's own provider only.

After a filing the page says when its estimates appear and, polling once a second, when they have
(``tracker.worker.status``); a file above the queue size is filed by a worker, and its receipt
appears the same way. The upload's answer carries what to follow (a store and an interval inside
``portal-result``); the poll sends only the job id or accession back, and the answer is looked up
for the signed-in user's provider, so another provider's id answers as unknown.
"""

from __future__ import annotations

import base64
import binascii
import json
from contextlib import nullcontext
from typing import Any

import dash
from dash import ALL, Input, Output, State, callback, dcc, html, no_update

from dashboards.components import inputs
from dashboards.components.filings import errors_view, estimates_when, receipt_view
from dashboards.components.formatting import (
    card,
    empty_state,
    error_message,
    format_metric,
    link,
    page_header,
    status_badge,
    system_label,
    table,
    when,
)
from dashboards.components.shell import own_provider
from tracker.auth.scope import Scope
from tracker.config import PROJECT_ROOT
from tracker.store import queries
from tracker.store.db import get_engine
from tracker.text import clean_name
from tracker.web.auth import current_scope, current_user_id, db_session, settings

dash.register_page(__name__, path="/portal", name="Provider portal", title="Portal · Compute threshold tracker",
                   order=5)

KINDS = ("training_runs", "inference_usage", "clusters")
TEMPLATES = PROJECT_ROOT / "data" / "templates"
NOT_PROVIDER = ("The provider portal is for provider accounts. Regulators see every filing on the Filings page; "
                "administrators create provider accounts on the Admin page.")


def layout(**_: Any) -> html.Div:
    scope = current_scope()
    provider = own_provider(scope)
    if provider is None:
        return html.Div([page_header("Provider portal"), empty_state(NOT_PROVIDER)])
    return html.Div([
        page_header(f"Provider portal · {provider['name']}",
                    "File disclosures, download templates and manage API tokens for your organisation."),
        html.Div([_upload_card(), _templates_card()], className="grid-2"),
        dcc.Loading(html.Div(id="portal-result"), type="circle"),
        html.Div(id="portal-status", role="status"),
        _flags_card(scope),
        _tokens_card(scope),
    ])


def _upload_card() -> html.Section:
    return card(
        "File a disclosure",
        html.P("One kind of record per file: CSV, JSON, Parquet or XLSX. Leave the kind on 'from the file' "
               "only for JSON files with a kind envelope.", className="muted"),
        dcc.Dropdown(id="portal-kind", value="training_runs", clearable=False,
                     options=[{"label": k, "value": k} for k in KINDS] + [{"label": "from the file", "value": ""}]),
        dcc.Upload(id="portal-upload", multiple=False, max_size=settings().max_upload_bytes,
                   className="upload-zone",
                   children=html.Div(["Drop a file here or ", html.A("choose one", className="link")])),
    )


def _templates_card() -> html.Section:
    buttons = []
    for kind in KINDS:
        buttons.append(html.Div([
            html.Span(kind, className="template-kind"),
            html.Button("CSV template", id={"type": "tpl-csv", "kind": kind}, className="button small"),
            html.Button("JSON Schema", id={"type": "tpl-schema", "kind": kind}, className="button small"),
        ], className="template-row"))
    return card("Templates and schemas", *buttons, dcc.Download(id="portal-download"))


def _flags_card(scope: Scope) -> html.Section:
    with db_session() as session:
        flags = queries.list_flags(session, scope)
    if not flags:
        return card("Your flags", empty_state("None of your systems is above or likely above a threshold."))
    return card("Your flags", table(
        ["System", "Regime", "Status", "Value", "Threshold", "Deadline", "Notified"],
        [[link(system_label(f["system"], f["version"]), f"/systems/{f['system_id']}"), f["regime_name"],
          status_badge(f["status"], f["projected"]), format_metric(f["value_central"], f["metric"]),
          format_metric(f["threshold"], f["metric"]),
          when(f["deadline"]), when(f["notified_at"])] for f in flags], table_id="portal-flags"))


def _tokens_table(scope: Scope) -> Any:
    with db_session() as session:
        tokens = queries.list_tokens(session, scope)
    if not tokens:
        return empty_state("No API tokens yet.", "Create one to file from scripts: POST /api/v1/disclosures.")
    return table(["Name", "Prefix", "Created", "Last used", "State"], [
        [t["name"], html.Code(t["token_prefix"] + "…"), when(t["created_at"]), when(t["last_used_at"]),
         f"revoked {when(t['revoked_at'])}" if t["revoked_at"] else
         html.Button("Revoke", id={"type": "revoke-token", "token": t["id"]}, className="button small danger")]
        for t in tokens], table_id="tokens")


def _tokens_card(scope: Scope) -> html.Section:
    return card("API tokens",
                html.Div([dcc.Input(id="token-name", placeholder="token name, e.g. ci-upload", maxLength=120),
                          html.Button("Create token", id="token-create", className="button primary")],
                         className="inline-form"),
                html.Div(id="token-secret", role="status"),
                html.Div(_tokens_table(scope), id="token-list"))


def _following(answer: Any, pending: dict[str, str]) -> html.Div:
    """The upload's answer, and what the poll follows: which filing, and a tick a second."""
    return html.Div([answer, dcc.Store(id="portal-pending", data=pending),
                     dcc.Interval(id="portal-poll", interval=1000)])


@callback(Output("portal-result", "children"), Input("portal-upload", "contents"),
          State("portal-upload", "filename"), State("portal-kind", "value"), prevent_initial_call=True)
def upload(contents: str | None, filename: str | None, kind: str | None) -> Any:
    from tracker.filing.admission import RETRY_AFTER_S, needs_slot, parse_slots
    from tracker.filing.ratelimit import filing_rates, retry_after_header, take
    from tracker.filing.service import FilingError, file_disclosure
    from tracker.worker.queue import enqueue_evaluation, enqueue_upload
    from tracker.worker.status import filing_evaluation

    scope = current_scope()
    provider = own_provider(scope)  # the provider comes from the session, never from the form
    if provider is None:
        return error_message(NOT_PROVIDER)
    if not contents:
        return no_update
    # The file arrives base64-encoded (4 characters per 3 bytes) behind a short data-URL prefix.
    contents = inputs.optional_text(contents, "portal-upload.contents",
                                    max_chars=4 * settings().max_upload_bytes // 3 + 1024) or ""
    filename = inputs.optional_text(filename, "portal-upload.filename", max_chars=1000)
    kind = inputs.optional_text(kind, "portal-kind", max_chars=64)
    try:
        content = base64.b64decode(contents.split(",", 1)[1], validate=True)
    except (IndexError, ValueError, binascii.Error):
        return error_message("The browser sent the file in a form we could not read. Please choose it again.")
    engine = get_engine(settings().database_url)
    wait = take(engine, filing_rates(settings(), token_prefix=None, provider_id=provider["id"]))
    if wait > 0:
        return error_message(f"Your organisation has filed many files in a short time. Nothing was stored: "
                             f"please file this one again in {retry_after_header(wait)} seconds.")
    if len(content) > settings().queue_upload_above_bytes:
        queued = enqueue_upload(engine, settings(), content=content, filename=filename or "upload", kind=kind or None,
                                provider_id=provider["id"], provider_slug=provider["slug"], filed_by=scope.actor,
                                channel="portal")
        notice = html.Div(f"{filename or 'The file'} is queued for filing (large files are filed in the "
                          "background). Its receipt appears here in a moment; you may leave this page and find it "
                          "on the Filings page later.", className="notice", id="portal-queued")
        return _following(notice, {"job": queued.public_id})
    try:
        slots = parse_slots(settings().max_concurrent_parses)
        with slots.held() if needs_slot(content, filename or "upload") else nullcontext(True) as admitted:
            if not admitted:
                return error_message("The server is checking as many files as it can at once. Nothing was "
                                     f"stored: please file this one again in {RETRY_AFTER_S} seconds.")
            outcome = file_disclosure(engine, content=content, filename=filename or "upload", kind=kind or None,
                                      provider_slug=provider["slug"], filed_by=scope.actor, channel="portal",
                                      create_provider=False)
    except FilingError as exc:
        return error_message(str(exc))
    result = outcome.to_dict()
    if result.get("status") == "rejected":
        # Nothing to follow: the poll clears what it said about an earlier filing.
        return _following(errors_view(result.get("errors") or [], title=f"{result.get('filename')} was rejected"), {})
    if not result.get("duplicate"):
        enqueue_evaluation(engine, settings())  # a worker evaluates it and sends its alerts
    with db_session() as session:  # the receipt says when the estimates appear, as the API's does
        result["evaluation"] = filing_evaluation(session, settings(), str(result.get("accession")), provider["id"])
    return _following(receipt_view(result), {"accession": str(result.get("accession"))})


# Fired when an upload's answer brings the store and the interval in, then on every tick.
@callback(Output("portal-status", "children"), Output("portal-poll", "disabled"),
          Input("portal-pending", "data"), Input("portal-poll", "n_intervals"))
def poll(pending: Any, _ticks: int | None) -> tuple[Any, bool]:
    """Where the last filing stands: its queued job's receipt, then whether its estimates are in."""
    from tracker.worker.status import filing_evaluation, job_view

    provider = own_provider(current_scope())
    pending = inputs.mapping(pending or {}, "portal-pending.data")
    job = inputs.optional_text(pending.get("job"), "portal-pending.job", max_chars=64)
    accession = inputs.optional_text(pending.get("accession"), "portal-pending.accession", max_chars=40)
    if provider is None or not (job or accession):
        return None, True
    with db_session() as session:
        if job:
            view = job_view(session, settings(), job, provider["id"])
            if view is None:
                return error_message("There is no queued filing with this id for your organisation."), True
            if view["status"] in ("queued", "running"):
                return html.P(f"{view['filename']}: {view['status']}, waiting for a worker…", className="muted",
                              id="portal-job-state"), False
            return _job_outcome(view), view["status"] != "done" or _finished(view["evaluation"])
        state = filing_evaluation(session, settings(), accession, provider["id"])
    if state is None:
        return error_message("There is no filing with this accession number for your organisation."), True
    return _evaluation_note(state), _finished(state)


def _finished(state: dict[str, Any] | None) -> bool:
    return state is None or state.get("state") not in ("queued", "running")


def _evaluation_note(state: dict[str, Any]) -> html.P:
    text = estimates_when(state)
    if state.get("state") == "done":
        text += " Your flags below and each system's page show them."
    kind = "notice" if state.get("state") == "done" else "muted"
    return html.P(text, className=f"{kind} evaluation-{state.get('state')}", id="portal-evaluation")


def _job_outcome(view: dict[str, Any]) -> html.Div:
    receipt = view.get("receipt") or {}
    if view["status"] == "failed" or not receipt:
        return html.Div(error_message(view.get("error") or "The filing could not be completed; please file it again."))
    if receipt.get("status") == "rejected":
        return html.Div(errors_view(receipt.get("errors") or [], title=f"{receipt.get('filename')} was rejected"))
    return html.Div([receipt_view(receipt), _evaluation_note(view.get("evaluation") or {"state": "queued"})])


@callback(Output("portal-download", "data"), Input({"type": "tpl-csv", "kind": ALL}, "n_clicks"),
          Input({"type": "tpl-schema", "kind": ALL}, "n_clicks"), prevent_initial_call=True)
def download(_csv: list[int | None], _schema: list[int | None]) -> Any:
    from tracker.filing.kinds import get_kind, json_schema

    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any([*(_csv or []), *(_schema or [])]):
        return no_update
    current_scope()
    kind = get_kind(str(trigger.get("kind")))
    if kind is None:
        return no_update
    if trigger["type"] == "tpl-schema":
        return dcc.send_string(json.dumps(json_schema(kind), indent=2), f"{kind.name}.schema.json")
    template = TEMPLATES / f"{kind.name}.csv"
    if template.is_file():
        return dcc.send_file(str(template))
    return dcc.send_string(",".join(c.name for c in kind.columns) + "\n", f"{kind.name}.csv")


@callback(Output("token-secret", "children"), Output("token-list", "children"),
          Input("token-create", "n_clicks"), Input({"type": "revoke-token", "token": ALL}, "n_clicks"),
          State("token-name", "value"), prevent_initial_call=True)
def tokens(create: int | None, revoke: list[int | None], name: str | None) -> tuple[Any, Any]:
    from tracker.auth.tokens import create_token, revoke_token

    scope = current_scope()
    provider = own_provider(scope)
    trigger = dash.ctx.triggered_id
    if provider is None:
        return error_message(NOT_PROVIDER), no_update
    message: Any = no_update
    with db_session() as session:
        if trigger == "token-create" and create:
            name = inputs.optional_text(name, "token-name", max_chars=120)
            if not (name or "").strip():
                return error_message("Give the token a name so you can tell it apart later."), no_update
            try:
                name = clean_name(name or "", "the token name")
            except ValueError as exc:
                return error_message(f"{str(exc)[0].upper()}{str(exc)[1:]}."), no_update
            plaintext, _ = create_token(session, user_id=current_user_id(), provider_id=provider["id"],
                                        name=name, actor=scope.actor)
            message = html.Div([html.P("Copy this token now: it is shown only once."),
                                html.Code(plaintext, id="token-plaintext")], className="notice")
        elif isinstance(trigger, dict) and any(revoke or []):
            try:
                revoke_token(session, inputs.record_id(trigger.get("token"), "revoke-token.token"), scope=scope)
            except (LookupError, PermissionError):
                return error_message("There is no token with this id that your account can revoke."), no_update
            message = html.Div("Token revoked.", className="notice")
        else:
            return no_update, no_update
    return message, _tokens_table(scope)
