"""The OpenAPI 3.1 description of /api/v1, built from the same column specs as validation."""

from __future__ import annotations

from typing import Any

from tracker import __version__
from tracker.filing.kinds import KINDS

_ERROR = {
    "type": "object",
    "properties": {
        "row": {"type": ["integer", "null"], "description": "data record, first record under the header = 1"},
        "column": {"type": ["string", "null"], "description": "column name, or 'header' / 'file'"},
        "message": {"type": "string"},
    },
    "required": ["row", "column", "message"],
}

_RECEIPT = {
    "type": "object",
    "properties": {
        "accession": {"type": "string", "pattern": r"^CTT-\d{4}-\d{6,}$"},
        "status": {"type": "string", "enum": ["accepted", "rejected"]},
        "duplicate": {"type": "boolean", "description": "true: these bytes were filed before; original receipt"},
        "provider": {"type": "string"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "sha256": {"type": "string"},
        "filename": {"type": "string"},
        "format": {"type": "string", "enum": ["csv", "json", "parquet", "xlsx"]},
        "size_bytes": {"type": "integer"},
        "channel": {"type": "string"},
        "filed_by": {"type": "string"},
        "filed_at": {"type": "string", "format": "date-time"},
        "counts": {
            "type": "object",
            "properties": {"records": {"type": "integer"}, "superseded": {"type": "integer"}},
        },
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
        "audit_head": {
            "type": ["object", "null"],
            "description": "the audit entry that recorded this filing (the chain's head then): keep it; "
                           "`tracker audit verify --head ID:HASH` shows it is still in the chain",
            "properties": {"id": {"type": "integer"}, "hash": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
        },
        "evaluation": {"$ref": "#/components/schemas/Evaluation"},
    },
    "required": ["accession", "status", "sha256"],
}

_EVALUATION = {
    "type": "object",
    "description": "when the filing's estimates and flags appear (docs/scheduler.md, The filing queue)",
    "properties": {
        "state": {"type": "string", "enum": ["done", "queued", "running", "nightly", "not_needed"],
                  "description": "done: the estimates include this filing; queued/running: an evaluation will "
                                 "read it within expected_within_s; nightly: the 02:00 UTC run will; "
                                 "not_needed: a rejected filing changes nothing"},
        "expected_within_s": {"type": "integer"},
        "expected_by": {"type": "string", "format": "date-time"},
    },
    "required": ["state"],
}

_QUEUED = {
    "type": "object",
    "description": "an upload above the queue size, filed by a worker: poll 'location' for its receipt",
    "properties": {
        "job": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "status": {"type": "string", "enum": ["queued", "running", "done", "rejected", "failed"]},
        "location": {"type": "string", "description": "GET it for the job's state and, once filed, the receipt"},
        "filename": {"type": ["string", "null"]},
        "size_bytes": {"type": ["integer", "null"]},
        "queued_at": {"type": "string", "format": "date-time"},
        "finished_at": {"type": ["string", "null"], "format": "date-time"},
        "receipt": {"oneOf": [{"$ref": "#/components/schemas/Receipt"}, {"type": "null"}],
                    "description": "the receipt (accepted) or the problems (rejected) once filed"},
        "error": {"type": ["string", "null"], "description": "failed: nothing was filed; file it again"},
        "evaluation": {"oneOf": [{"$ref": "#/components/schemas/Evaluation"}, {"type": "null"}]},
    },
    "required": ["job", "status"],
}


_REGISTRATION = {
    "type": "object",
    "description": "a registered system, public fields only (docs/registration.md)",
    "properties": {
        "registration_number": {"type": "string", "pattern": r"^CTR-\d{4}-\d{6}$"},
        "provider": {"type": "string", "description": "the provider's name"},
        "provider_slug": {"type": "string"},
        "system": {"type": "string"},
        "version": {"type": ["string", "null"]},
        "regime_id": {"type": "string"},
        "regime_name": {"type": ["string", "null"]},
        "threshold": {"type": ["number", "null"], "description": "the published threshold crossed"},
        "tier": {"type": ["string", "null"], "description": "the system's grade under the regime, if it has tiers"},
        "state": {"type": "string"},
        "crossed_on": {"type": ["string", "null"], "format": "date"},
        "registered_at": {"type": ["string", "null"], "format": "date-time"},
        "certificate_status": {"type": ["string", "null"], "enum": ["valid", "revoked", "superseded", None]},
        "certificate_url": {"type": ["string", "null"]},
        "metric": {"type": ["string", "null"], "description": "what the regime's threshold measures, and so its "
                   "unit: training_flop_cumulative in FLOP, cost_usd_training in USD... (regimes.yaml)"},
    },
    "required": ["registration_number", "provider", "system", "regime_id", "state"],
}
_REGISTER_PARAMS = [
    {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 200},
     "description": "search in registration number, provider and system"},
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 1000}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
    {"name": "format", "in": "query", "schema": {"type": "string", "enum": ["json", "csv"], "default": "json"}},
]
_REGISTER_GET: dict[str, Any] = {
    "summary": "The public register: registered systems, public fields only",
    "security": [],
    "parameters": _REGISTER_PARAMS,
    "responses": {
        "200": {"description": "the register", "content": {
            "application/json": {"schema": {"type": "object", "properties": {
                "registrations": {"type": "array", "items": {"$ref": "#/components/schemas/PublicRegistration"}},
                "count": {"type": "integer"}, "limit": {"type": "integer"}, "offset": {"type": "integer"},
                "search": {"type": ["string", "null"]}}}},
            "text/csv": {"schema": {"type": "string"}}}},
        "400": {"description": "a query parameter out of range; the message names it",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}},
    },
}


_JSON_ERRORS = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}}
# Certificate verification: public, no login (contract §6; docs/registration.md).
_CERTIFICATE_PATHS: dict[str, Any] = {
    "/api/v1/certificates/keys": {"get": {
        "summary": "The published certificate-signing public keys by key id, retired ones included",
        "security": [],
        "responses": {"200": {"description": "keys", "content": {"application/json": {"schema": {
            "type": "object", "properties": {
                "current": {"type": ["string", "null"], "description": "the key id signing new certificates"},
                "keys": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                    "algorithm": {"type": "string", "enum": ["Ed25519"]},
                    "public_key": {"type": "string", "description": "PEM (SubjectPublicKeyInfo)"},
                    "public_key_raw": {"type": "string", "description": "the raw 32 bytes, base64url"},
                    "created_at": {"type": "string", "format": "date-time"},
                    "retired_at": {"type": ["string", "null"], "format": "date-time"}}}}}}}}}},
    }},
    "/api/v1/certificates/revoked": {"get": {
        "summary": "The revocation list: certificates revoked or superseded (reason category only)",
        "security": [],
        "responses": {"200": {"description": "revoked and superseded certificates", "content": {
            "application/json": {"schema": {"type": "object", "properties": {"certificates": {
                "type": "array", "items": {"type": "object", "properties": {
                    "registration_number": {"type": "string"}, "key_id": {"type": "string"},
                    "status": {"type": "string", "enum": ["revoked", "superseded"]},
                    "reason_category": {"type": ["string", "null"],
                                        "enum": ["withdrawn", "rejected", "amended", "revoked", None]},
                    "issued_at": {"type": "string", "format": "date-time"},
                    "status_at": {"type": ["string", "null"], "format": "date-time"}}}}}}}}}},
    }},
    "/api/v1/certificates/{number}": {"get": {
        "summary": "The current signed certificate of a registration number and its status",
        "security": [],
        "parameters": [{"name": "number", "in": "path", "required": True,
                        "schema": {"type": "string", "pattern": r"^CTR-\d{4}-\d{6}$"}}],
        "responses": {
            "200": {"description": "the certificate document and its status", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "certificate": {"type": "object", "properties": {
                        "certificate": {"type": "object", "description": "the signed body (ctr-certificate/1)"},
                        "signature": {"type": "object", "properties": {
                            "alg": {"type": "string"}, "key_id": {"type": "string"},
                            "value": {"type": "string", "description": "base64url Ed25519 signature of the "
                                                                       "body's canonical JSON"}}}}},
                    "status": {"type": "string", "enum": ["valid", "revoked", "superseded"]}},
                    "required": ["certificate", "status"]}}}},
            "400": {"description": "not a registration number (CTR-YYYY-NNNNNN)", **_JSON_ERRORS},
            "404": {"description": "no certificate for this number", **_JSON_ERRORS},
        },
    }},
}


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


_SUBMISSION_FIELDS: dict[str, Any] = {
    "system": {"type": "string", "maxLength": 200, "description": "the system's name, as filed"},
    "version": {"type": "string", "maxLength": 64, "description": "empty: the unversioned system"},
    "regime": {"type": "string", "description": "regime id of data/regimes.yaml"},
    "compute_flop": {"type": "number", "exclusiveMinimum": 0,
                     "description": "the training compute the provider stands behind (confidential)"},
    "compute_method": {"type": "string", "maxLength": 64},
    "crossed_on": {"type": "string", "format": "date", "description": "1990-01-01 to ten years ahead"},
    "contact": {"type": "string", "maxLength": 500},
    "contest": {"type": "string", "description": "arguments that the system does not present the regime's risk "
                "despite meeting its threshold (EU AI Act Art. 52(2)); makes the submission a contest"},
    "voluntary": {"type": "boolean", "description": "register although no obligation is open"},
    "provider": {"type": "string", "description": "optional; must be the token's provider"},
}
_OWN_REGISTRATION = {
    "type": "object",
    "description": "one of the token's provider's registrations (docs/registration.md)",
    "properties": {
        "id": {"type": "integer"}, "provider": {"type": "string"}, "system": {"type": "string"},
        "version": {"type": "string"}, "regime": {"type": "string"},
        "state": {"type": "string", "enum": ["due", "submitted", "contested", "registered", "not_designated",
                                             "rejected", "withdrawn"]},
        "registration_number": {"type": ["string", "null"], "pattern": r"^CTR-\d{4}-\d{6}$"},
        "deadline": {"type": ["string", "null"], "format": "date"},
        "obligation": {"type": "string"}, "voluntary": {"type": "boolean"}, "overdue": {"type": "boolean"},
        "submissions": {"type": "array", "description": "detail only"},
        "events": {"type": "array", "description": "detail only: every transition with its reason"},
    },
    "required": ["id", "provider", "system", "version", "regime", "state", "registration_number", "deadline"],
}


def _registration_paths(errors: dict[str, Any]) -> dict[str, Any]:
    own = _json("Registration", "the registration")
    path_id = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
    return {
        "/api/v1/registrations": {
            "post": {
                "summary": "Submit a registration: notification, contest, further information or voluntary",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"type": "object", "properties": _SUBMISSION_FIELDS,
                                                    "required": ["system", "regime"]}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        **_SUBMISSION_FIELDS,
                        "attachment": {"type": "array", "items": {"type": "string", "format": "binary"},
                                       "description": "PDF or UTF-8 text, size-capped, repeatable"}},
                        "required": ["system", "regime"]}},
                }},
                "responses": {"201": own, "400": _json("Errors", "refused: every problem names its field; "
                                                       "nothing stored"),
                              "401": errors, "409": _json("Errors", "the registration's state does not allow it"),
                              "413": errors},
            },
            "get": {"summary": "The token's provider's registrations",
                    "parameters": [{"name": "state", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "registrations", "content": {"application/json": {
                        "schema": {"type": "object", "properties": {"registrations": {
                            "type": "array", "items": {"$ref": "#/components/schemas/Registration"}}}}}}},
                        "401": errors}},
        },
        "/api/v1/registrations/{id}": {"get": {
            "summary": "One registration with its submissions and history", "parameters": path_id,
            "responses": {"200": own, "401": errors,
                          "404": _json("Errors", "no such registration for this token's provider")}}},
        "/api/v1/registrations/{id}/withdraw": {"post": {
            "summary": "Withdraw the registration (a registered one's certificate is revoked)",
            "parameters": path_id,
            "requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "properties": {"reason": {"type": "string"}}}}}},
            "responses": {"200": own, "401": errors, "404": _json("Errors", "no such registration for this "
                                                                  "token's provider"),
                          "409": _json("Errors", "the registration's state does not allow a withdrawal")}}},
    }


def openapi_document() -> dict[str, Any]:
    errors = _json("Errors", "problems, one per entry")
    return {
        "openapi": "3.1.0",
        "info": {"title": "Compute threshold tracker API", "version": __version__,
                 "description": "File compute disclosures (contract §1) and read their receipts."},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "per-provider API token (ctt_...)"}},
            "schemas": {
                "Problem": _ERROR,
                "Errors": {"type": "object", "properties": {
                    "errors": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}}}},
                "Receipt": _RECEIPT,
                "Evaluation": _EVALUATION,
                "QueuedFiling": _QUEUED,
                "PublicRegistration": _REGISTRATION,
                "Registration": _OWN_REGISTRATION,
            },
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/disclosures": {"post": {
                "summary": "File a disclosure",
                "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "format": "binary",
                                 "description": "CSV, JSON, Parquet or XLSX"},
                        "kind": {"type": "string", "enum": list(KINDS),
                                 "description": "optional when a JSON envelope names it"},
                        "provider": {"type": "string", "description": "optional; must be the token's provider"},
                    },
                    "required": ["file"],
                }}}},
                "responses": {
                    "201": _json("Receipt", "accepted and stored"),
                    "202": {**_json("QueuedFiling", "larger than TRACKER_QUEUE_UPLOAD_ABOVE_BYTES: queued for a "
                                                    "worker; Location (and 'location') is where its receipt "
                                                    "will be"),
                            "headers": {"Location": {"schema": {"type": "string"}}}},
                    "200": _json("Receipt", "the same bytes were filed before: the original receipt"),
                    "400": _json("Receipt", "rejected: 'errors' lists every problem; nothing stored"),
                    "401": errors, "403": errors, "413": errors,
                    "429": {**errors, "description": "too many filings from this token or provider; "
                                                     "Retry-After says when to file again; nothing stored"},
                    "503": {**errors, "description": "the server is parsing as many heavy uploads as it takes "
                                                     "at once; Retry-After; nothing stored"},
                },
            }},
            "/api/v1/disclosures/{accession}": {"get": {
                "summary": "A filing's receipt and status",
                "parameters": [{"name": "accession", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json("Receipt", "the receipt"), "401": errors,
                              "404": _json("Errors", "no such filing for this token's provider")},
            }},
            "/api/v1/disclosures/queue/{job}": {"get": {
                "summary": "A queued upload: its state and, once a worker filed it, its receipt",
                "parameters": [{"name": "job", "in": "path", "required": True,
                                "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"}}],
                "responses": {"200": _json("QueuedFiling", "the job; 'receipt' once filed"), "401": errors,
                              "404": _json("Errors", "no such queued upload for this token's provider")},
            }},
            "/api/v1/register": {"get": _REGISTER_GET},
            "/api/v1/register.csv": {"get": {**_REGISTER_GET, "summary": "The public register as CSV",
                                              "parameters": _REGISTER_PARAMS[:3]}},
            **_CERTIFICATE_PATHS,
            **_registration_paths(errors),
            "/api/v1/systems/publish": {"post": {
                "summary": "Make one of the token's provider's systems' figures public (or confidential again), "
                           "so other providers may name it as a base (docs/filing.md, Lineage)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"system": {"type": "string", "description": "name or name@version"},
                                   "public": {"type": "boolean", "default": True}},
                    "required": ["system"],
                }}}},
                "responses": {
                    "200": {"description": "the system and its figures_public", "content": {"application/json": {
                        "schema": {"type": "object", "properties": {
                            "provider": {"type": "string"}, "system": {"type": "string"},
                            "version": {"type": "string"}, "figures_public": {"type": "boolean"}}}}}},
                    "400": errors, "401": errors,
                    "404": _json("Errors", "no such system of this token's provider (another provider's "
                                           "answers the same)"),
                },
            }},
            "/api/v1/accelerators": {"get": {
                "summary": "The accelerator catalog: each accelerator's name, aliases and dense peak FLOP/s per "
                           "format, with its public source (what a disclosure's accelerator cell may name)",
                "security": [],
                "responses": {"200": {"description": "{accelerators: [...], count, note}", "content": {
                    "application/json": {"schema": {"type": "object", "properties": {
                        "accelerators": {"type": "array", "items": {"type": "object"}},
                        "count": {"type": "integer"}, "note": {"type": "string"}}}}}}},
            }},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                             "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        },
    }
