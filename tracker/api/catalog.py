"""``GET /api/v1/accelerators``: the accelerator catalog, public, without an account.

Filing messages send providers here when an accelerator does not resolve: the catalog's names
and aliases are what a disclosure's ``accelerator`` cell may hold. The catalog is public data
(every row cites a public source), so the route needs no token; it only reads.
"""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

from tracker.catalog.accelerators import PEAK_COLUMNS, load_catalog

_CACHE = "public, max-age=300"  # the catalog changes with a release, not between requests


def catalog_document() -> dict[str, Any]:
    """Every accelerator: canonical name, aliases, dense peaks per format (FLOP/s; INT8 in OPS/s)."""
    rows = []
    for row in load_catalog().frame.iter_rows(named=True):
        aliases = [a.strip() for a in (row.get("aliases") or "").split(";") if a.strip()]
        rows.append({
            "accelerator": row["accelerator"], "vendor": row["vendor"], "year": row["year"], "aliases": aliases,
            **{column: row[column] for column in PEAK_COLUMNS.values()},
            "memory_gb": row["memory_gb"], "tdp_w": row["tdp_w"], "source": row["source"],
        })
    return {"accelerators": rows, "count": len(rows),
            "note": "peaks are dense (no 2:4 sparsity); a disclosure's accelerator may be a name or an alias"}


def accelerator_catalog() -> tuple[Response, int]:
    response = jsonify(catalog_document())
    response.headers["Cache-Control"] = _CACHE
    return response, 200
