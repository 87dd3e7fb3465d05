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
    },
    "required": ["accession", "status", "sha256"],
}


def _json(schema_ref: str, description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


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
                    "200": _json("Receipt", "the same bytes were filed before: the original receipt"),
                    "400": _json("Receipt", "rejected: 'errors' lists every problem; nothing stored"),
                    "401": errors, "403": errors, "413": errors,
                },
            }},
            "/api/v1/disclosures/{accession}": {"get": {
                "summary": "A filing's receipt and status",
                "parameters": [{"name": "accession", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": _json("Receipt", "the receipt"), "401": errors,
                              "404": _json("Errors", "no such filing for this token's provider")},
            }},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                                             "responses": {"200": {"description": "OpenAPI 3.1"}}}},
        },
    }
