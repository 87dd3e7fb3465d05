"""``/api/v1/registrations``: a provider's registrations through its bearer token.

``POST`` submits (a JSON body, or multipart form fields with ``attachment`` files), ``GET`` lists
or shows the token's provider's own registrations, ``POST .../{id}/withdraw`` withdraws one.
Another provider's registration answers exactly like a missing one (404), and a submission for
another provider's system gets the same 400 as one for a system that does not exist, so a token
cannot probe what others have filed. Every rule about the submission lives in
``tracker.registration``; this module maps it to HTTP.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from flask import Blueprint, Response, request

from tracker.api.routes import _caller, _engine, _error, _max_bytes
from tracker.auth.scope import Scope
from tracker.config import get_settings
from tracker.filing.problems import Problem
from tracker.registration.states import STATES
from tracker.registration.submit import (
    RegistrationConflict,
    RegistrationNotFound,
    RegistrationRejected,
    submit,
)
from tracker.registration.validate import ATTACHMENTS_MAX, Attachment, parse_fields
from tracker.registration.withdraw import withdraw_registration
from tracker.store.queries.registrations import list_registrations, registration_detail

registrations_blueprint = Blueprint("registrations", __name__, url_prefix="/api/v1")
ATTACHMENT_FIELD = "attachment"
# What a provider's API answer carries about a registration (its own: no confidential field hidden).
_HIDDEN = ("provider_id", "system_id")


def _iso(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _json(body: Any, status: int) -> tuple[Response, int]:
    return Response(json.dumps(body, default=_iso), mimetype="application/json"), status


def _problems(problems: Sequence[Problem], status: int = 400) -> tuple[Response, int]:
    return _json({"errors": [{**p.to_dict(), "field": p.column} for p in problems]}, status)


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in _HIDDEN}


def _read_request() -> tuple[dict[str, Any] | None, list[Attachment], list[Problem]]:
    """The submission's fields and files from a JSON body or a multipart form."""
    if request.mimetype == "multipart/form-data":
        cap = get_settings().registration_attachment_max_bytes
        uploads = request.files.getlist(ATTACHMENT_FIELD)
        unknown = sorted(set(request.files) - {ATTACHMENT_FIELD})
        if unknown:
            return None, [], [Problem(None, unknown[0][:64], f"is not a file field; expected "
                                      f"'{ATTACHMENT_FIELD}' (repeatable)")]
        if len(uploads) > ATTACHMENTS_MAX:
            return None, [], [Problem(None, "attachments", f"{len(uploads)} files; expected at most "
                                      f"{ATTACHMENTS_MAX}")]
        files = []
        for index, upload in enumerate(uploads, start=1):
            content = upload.stream.read(cap + 1)  # never more than one byte past the cap
            if len(content) > cap:
                return None, [], [Problem(None, f"attachment {index}", f"is larger than {cap} bytes; expected at "
                                          f"most {cap} bytes")]
            files.append(Attachment(upload.filename or "", content))
        return request.form.to_dict(), files, []
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None, [], [Problem(None, "body", "is not a JSON object; expected a JSON object of submission "
                                  "fields, or a multipart form")]
    return body, [], []


@registrations_blueprint.post("/registrations")
def post_registration() -> tuple[Response, int]:
    if request.content_length is not None and request.content_length > _max_bytes():
        return _error(413, f"the upload is larger than the cap of {_max_bytes()} bytes")
    caller = _caller()
    if caller is None:
        return _error(401, "missing, unknown or revoked bearer token")
    raw, files, problems = _read_request()
    if raw is None:
        return _problems(problems)
    submission, problems = parse_fields(raw, caller.provider_slug, files)
    if submission is None:
        return _problems(problems)
    try:
        row = submit(_engine(), submission, channel="api", submitted_by=caller.label)
    except RegistrationRejected as exc:
        state_refusal = all(p.column == "state" for p in exc.problems)
        return _problems(exc.problems, 409 if state_refusal else 400)
    except RegistrationConflict as exc:
        return _error(409, str(exc))
    response, status = _json(_shown(row), 201)
    response.headers["Location"] = f"{registrations_blueprint.url_prefix}/registrations/{row['id']}"
    return response, status


@registrations_blueprint.get("/registrations")
def get_registrations() -> tuple[Response, int]:
    caller = _caller()
    if caller is None:
        return _error(401, "missing, unknown or revoked bearer token")
    state = request.args.get("state") or None
    if state is not None and state not in STATES:
        return _problems([Problem(None, "state", f"is {state[:40]!r}; expected one of {', '.join(STATES)}")])
    from sqlmodel import Session

    scope = Scope(actor=caller.label, role="provider", provider_id=caller.provider_id)
    with Session(_engine()) as session:
        rows = list_registrations(session, scope, state)
    return _json({"registrations": [_shown(r) for r in rows]}, 200)


@registrations_blueprint.get("/registrations/<int:registration_id>")
def get_registration(registration_id: int) -> tuple[Response, int]:
    caller = _caller()
    if caller is None:
        return _error(401, "missing, unknown or revoked bearer token")
    from sqlmodel import Session

    scope = Scope(actor=caller.label, role="provider", provider_id=caller.provider_id)
    with Session(_engine()) as session:
        detail = registration_detail(session, scope, registration_id)
    if detail is None:
        return _error(404, f"no registration {registration_id} for this provider")
    return _json(_shown(detail), 200)


@registrations_blueprint.post("/registrations/<int:registration_id>/withdraw")
def withdraw(registration_id: int) -> tuple[Response, int]:
    caller = _caller()
    if caller is None:
        return _error(401, "missing, unknown or revoked bearer token")
    body = request.get_json(silent=True) if request.data else {}
    reason = body.get("reason") if isinstance(body, dict) else None
    if reason is not None and not isinstance(reason, str):
        return _problems([Problem(None, "reason", f"is a {type(reason).__name__}; expected text")])
    try:
        row = withdraw_registration(_engine(), registration_id, provider=caller.provider_slug, actor=caller.label,
                                    reason=reason)
    except RegistrationNotFound:
        return _error(404, f"no registration {registration_id} for this provider")
    except RegistrationRejected as exc:
        return _problems(exc.problems, 409 if all(p.column == "state" for p in exc.problems) else 400)
    except RegistrationConflict as exc:
        return _error(409, str(exc))
    return _json(_shown(row), 200)
