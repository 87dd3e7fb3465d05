"""``/api/v1/certificates``: anyone may verify a registration certificate, without an account.

Everything here is public by design (contract §6): the signed documents (which carry no
confidential figure), the published public keys, and the revocation list with its reason
categories only; the regulator's reason text never leaves the database through these routes.
The number is checked against its format before any query, and every answer is JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify
from sqlmodel import Session

from tracker.api.routes import _engine
from tracker.registration import certificate_format as fmt
from tracker.registration.certificates import current_certificate, document_of, is_registration_number, revocation_list
from tracker.registration.keys import list_keys

certificates_blueprint = Blueprint("certificates", __name__, url_prefix="/api/v1/certificates")
# Status can change (revocation), so caches hold answers briefly; keys change only on rotation.
_CACHE_SHORT = "public, max-age=60"
_CACHE_KEYS = "public, max-age=300"


def _json(body: dict[str, Any], status: int, cache: str) -> tuple[Response, int]:
    response = jsonify(body)
    response.headers["Cache-Control"] = cache
    return response, status


def _error(status: int, message: str) -> tuple[Response, int]:
    return _json({"errors": [{"row": None, "column": None, "message": message}]}, status, "no-store")


# Declared before the catch-all number route, which would otherwise be read first by a reader.
@certificates_blueprint.get("/keys")
def keys() -> tuple[Response, int]:
    with Session(_engine()) as session:
        rows = list_keys(session)
    published = {}
    for row in rows:
        key = fmt.load_public_key(row.public_key)
        published[row.key_id] = {
            "algorithm": row.algorithm, "public_key": row.public_key,
            "public_key_raw": fmt.b64url(fmt.raw_public_key(key)),
            "created_at": row.created_at.isoformat(),
            "retired_at": row.retired_at.isoformat() if row.retired_at else None,
        }
    current = [row.key_id for row in rows if row.retired_at is None]
    return _json({"keys": published, "current": current[0] if current else None}, 200, _CACHE_KEYS)


@certificates_blueprint.get("/revoked")
def revoked() -> tuple[Response, int]:
    with Session(_engine()) as session:
        entries = revocation_list(session)
    return _json({"certificates": entries}, 200, _CACHE_SHORT)


# ``path:`` so that a number with slashes or dots in it gets the same JSON 400 as any other bad
# number, instead of falling through to the dashboard's routes.
@certificates_blueprint.get("/<path:number>")
def certificate(number: str) -> tuple[Response, int]:
    if len(number) > 40 or not is_registration_number(number):
        return _error(400, f"{number[:40]!r} is not a registration number; expected CTR-YYYY-NNNNNN")
    with Session(_engine()) as session:
        found = current_certificate(session, number)
        if found is None:
            return _error(404, f"no certificate for registration number {number}")
        body = {"certificate": document_of(found), "status": found.status}
    return _json(body, 200, _CACHE_SHORT)
