"""``/api/v1``: file disclosures and read their receipts, with a per-provider bearer token.

Thin by design: authentication, size limits and HTTP status codes live here; every rule about
the file lives in tracker.filing.service, which the CLI and inbox call too. A receipt of another
provider answers 404, not 403, so a token cannot probe which accession numbers exist.

An upload above ``TRACKER_QUEUE_UPLOAD_ABOVE_BYTES`` is not parsed here: it is spooled and queued
for a worker (``tracker.worker``) and answered 202 with where its receipt will be. Every receipt
says when the filing's estimates appear (``evaluation``); an accepted filing queues the evaluation.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from werkzeug.exceptions import RequestEntityTooLarge

from tracker.api.catalog import accelerator_catalog
from tracker.api.openapi import openapi_document
from tracker.auth.tokens import authenticate_token
from tracker.config import Settings, get_settings
from tracker.filing.admission import RETRY_AFTER_S, needs_slot, parse_slots
from tracker.filing.ratelimit import filing_rates, retry_after_header, take
from tracker.filing.receipts import Receipt, outcome_of
from tracker.filing.service import file_disclosure
from tracker.store.db import get_engine
from tracker.store.models import Filing, Provider
from tracker.web.api_errors import error_body
from tracker.worker.queue import enqueue_evaluation, enqueue_upload
from tracker.worker.status import filing_evaluation, job_view

api_blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
api_blueprint.add_url_rule("/accelerators", view_func=accelerator_catalog)  # public: no token
ENGINE_KEY = "tracker_engine"


@dataclass(frozen=True)
class Caller:
    provider_id: int
    provider_slug: str
    label: str  # recorded as filed_by
    token_prefix: str | None = None


def _settings() -> Settings:
    settings = current_app.extensions.get("tracker_settings")
    return settings if isinstance(settings, Settings) else get_settings()


def _throttled(status: int, message: str, retry_after: str) -> tuple[Response, int]:
    response, code = _error(status, message)
    response.headers["Retry-After"] = retry_after
    return response, code


def _engine() -> Engine:
    engine = current_app.extensions.get(ENGINE_KEY)
    return engine if isinstance(engine, Engine) else get_engine()


def _max_bytes() -> int:
    configured = current_app.config.get("MAX_CONTENT_LENGTH")
    return int(configured) if configured else get_settings().max_upload_bytes


def _error(status: int, message: str, **extra: Any) -> tuple[Response, int]:
    body = {**error_body(message), **extra}
    response = jsonify(body)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="tracker"'
    return response, status


def _caller() -> Caller | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    with Session(_engine(), expire_on_commit=False) as session, session.begin():
        found = authenticate_token(session, token.strip())
        if found is None or found.provider_id is None:
            return None
        provider = session.get(Provider, found.provider_id)
        if provider is None or provider.id is None:
            return None
        return Caller(provider.id, provider.slug, f"api:{found.token_prefix}", found.token_prefix)


def _too_large() -> tuple[Response, int]:
    return _error(413, f"the upload is larger than the cap of {_max_bytes()} bytes")


@api_blueprint.errorhandler(RequestEntityTooLarge)
def _on_too_large(_exc: RequestEntityTooLarge) -> tuple[Response, int]:
    return _too_large()


@api_blueprint.post("/disclosures")
def post_disclosure() -> tuple[Response, int]:
    # Refuse by the declared length before any byte of the body is read.
    if request.content_length is not None and request.content_length > _max_bytes():
        return _too_large()
    caller = _caller()
    if caller is None:
        return _error(401, "missing, unknown or revoked bearer token")
    provider = request.form.get("provider")
    if provider and provider != caller.provider_slug:
        return _error(403, "this token files only for its own provider")
    upload = request.files.get("file")
    if upload is None:
        return _error(400, "the multipart field 'file' is missing; expected the disclosure file")
    content = upload.stream.read(_max_bytes() + 1)
    if len(content) > _max_bytes():  # chunked uploads declare no length
        return _too_large()
    # A request refused above (401, 403, 400, 413) files nothing and draws nothing; a filing draws one
    # token from its token's bucket and its provider's, before the file is parsed.
    wait = take(_engine(), filing_rates(_settings(), token_prefix=caller.token_prefix,
                                        provider_id=caller.provider_id))
    if wait > 0:
        seconds = retry_after_header(wait)
        return _throttled(429, f"too many filings from this token or provider; retry after {seconds} s (limits: "
                               f"{_settings().token_filing_burst} at once and {_settings().token_filings_per_minute:g}"
                               f" a minute per token, {_settings().provider_filing_burst} at once and "
                               f"{_settings().provider_filings_per_minute:g} a minute per provider)", seconds)
    filename = upload.filename or "upload"
    if len(content) > _settings().queue_upload_above_bytes:
        return _queued(content, filename, caller)
    slots = parse_slots(_settings().max_concurrent_parses)
    with slots.held() if needs_slot(content, filename) else nullcontext(True) as admitted:
        if not admitted:
            return _throttled(503, "the server is parsing as many filings as it takes at once; nothing was "
                                   f"stored: retry after {RETRY_AFTER_S} s", str(RETRY_AFTER_S))
        outcome = file_disclosure(
            _engine(), content=content, filename=filename,
            kind=request.form.get("kind") or None, provider_slug=caller.provider_slug, filed_by=caller.label,
            channel="api", create_provider=False,
        )
    if isinstance(outcome, Receipt) and not outcome.duplicate:
        enqueue_evaluation(_engine(), _settings())  # a worker evaluates it and sends its alerts
    body = _with_evaluation(outcome.to_dict(), caller)
    if isinstance(outcome, Receipt):
        response = jsonify(body)
        response.headers["Location"] = f"{api_blueprint.url_prefix}/disclosures/{outcome.accession}"
        return response, 200 if outcome.duplicate else 201
    return jsonify(body), 400


def _with_evaluation(body: dict[str, Any], caller: Caller) -> dict[str, Any]:
    with Session(_engine()) as session:
        state = filing_evaluation(session, _settings(), body.get("accession"), caller.provider_id)
    return {**body, "evaluation": state or {"state": "not_needed"}}


def _queued(content: bytes, filename: str, caller: Caller) -> tuple[Response, int]:
    """202: spooled and queued; the client polls the job's location for the receipt."""
    queued = enqueue_upload(_engine(), _settings(), content=content, filename=filename,
                            kind=request.form.get("kind") or None, provider_id=caller.provider_id,
                            provider_slug=caller.provider_slug, filed_by=caller.label, channel="api")
    location = f"{api_blueprint.url_prefix}/disclosures/queue/{queued.public_id}"
    response = jsonify({"job": queued.public_id, "status": "queued", "location": location,
                        "filename": filename, "size_bytes": len(content), "receipt": None,
                        "evaluation": {"state": "queued",
                                       "expected_within_s": _settings().evaluation_expected_within_s}})
    response.headers["Location"] = location
    response.headers["Retry-After"] = "1"
    return response, 202


@api_blueprint.get("/disclosures/queue/<job>")
def get_queued(job: str) -> tuple[Response, int]:
    caller = _caller()
    if caller is None:
        return _error(401, "missing, unknown or revoked bearer token")
    with Session(_engine()) as session:
        view = job_view(session, _settings(), job[:64], caller.provider_id)
    if view is None:
        return _error(404, f"no queued upload {job[:40]!r} for this provider")
    response = jsonify({**view, "location": f"{api_blueprint.url_prefix}/disclosures/queue/{view['job']}"})
    if view["status"] in ("queued", "running"):
        response.headers["Retry-After"] = "1"
    elif view["receipt"] and view["receipt"].get("accession"):
        response.headers["Location"] = f"{api_blueprint.url_prefix}/disclosures/{view['receipt']['accession']}"
    return response, 200


@api_blueprint.get("/disclosures/<accession>")
def get_disclosure(accession: str) -> tuple[Response, int]:
    caller = _caller()
    if caller is None:
        return _error(401, "missing, unknown or revoked bearer token")
    with Session(_engine()) as session:
        filing = session.exec(select(Filing).where(Filing.accession == accession)).first()
        if filing is None or filing.provider_id != caller.provider_id:
            return _error(404, f"no filing {accession[:40]!r} for this provider")
        body = outcome_of(filing, caller.provider_slug, session=session).to_dict()
    return jsonify(_with_evaluation(body, caller)), 200


@api_blueprint.post("/systems/publish")
def publish_system() -> tuple[Response, int]:
    """Mark one of the caller's own systems as having public figures (``{"system": "name[@version]",
    "public": true}``); other providers may then build on it. Another provider's system is
    answered as unknown: a token cannot probe which systems exist."""
    from tracker.filing.systems import SystemNotFoundError, publish_figures

    caller = _caller()
    if caller is None:
        return _error(401, "missing, unknown or revoked bearer token")
    body = request.get_json(silent=True)
    reference = body.get("system") if isinstance(body, dict) else None
    public = body.get("public", True) if isinstance(body, dict) else None
    if not isinstance(reference, str) or not reference.strip() or len(reference) > 300:
        return _error(400, "field 'system' is missing or not text; expected a JSON body "
                           '{"system": "name[@version]", "public": true}')
    if not isinstance(public, bool):
        return _error(400, "field 'public' is not true or false; expected a boolean")
    try:
        with Session(_engine()) as session, session.begin():
            system = publish_figures(session, provider_slug=caller.provider_slug, reference=reference,
                                     actor=caller.label, public=public)
            answer = {"provider": caller.provider_slug, "system": system.name, "version": system.version,
                      "figures_public": system.figures_public}
    except SystemNotFoundError as exc:
        return _error(404, str(exc))
    return jsonify(answer), 200


@api_blueprint.get("/openapi.json")
def openapi() -> tuple[Response, int]:
    return jsonify(openapi_document()), 200
