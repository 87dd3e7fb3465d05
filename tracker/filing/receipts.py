"""What a filer gets back: a receipt for an accepted file, the problems for a rejected one.

Accession numbers read ``CTT-<year>-<sequence>``: the sequence is the filing's database id,
zero-padded to six digits, so numbers are unique without a lock of their own, sort in filing order,
and can be quoted over the phone. Rejected filings get one too, so a provider can cite them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracker.filing.problems import Problem
from tracker.store.models import Filing

ACCESSION_PREFIX = "CTT"


def accession_for(filing_id: int, filed_at: datetime) -> str:
    return f"{ACCESSION_PREFIX}-{filed_at.year}-{filing_id:06d}"


@dataclass(frozen=True)
class Receipt:
    """An accepted filing (or, with ``status='valid'`` and no accession, a dry run's verdict)."""

    accession: str | None
    provider: str
    kind: str
    sha256: str
    filename: str
    format: str
    size_bytes: int
    channel: str
    filed_by: str
    filed_at: datetime | None
    records: int
    superseded: int
    duplicate: bool = False
    status: str = "accepted"

    def to_dict(self) -> dict[str, Any]:
        return {
            "accession": self.accession,
            "status": self.status,
            "duplicate": self.duplicate,
            "provider": self.provider,
            "kind": self.kind,
            "sha256": self.sha256,
            "filename": self.filename,
            "format": self.format,
            "size_bytes": self.size_bytes,
            "channel": self.channel,
            "filed_by": self.filed_by,
            "filed_at": self.filed_at.isoformat() if self.filed_at else None,
            "counts": {"records": self.records, "superseded": self.superseded},
        }


@dataclass(frozen=True)
class Rejection:
    accession: str | None  # None for a dry run
    provider: str
    kind: str | None
    sha256: str
    filename: str
    filed_at: datetime | None
    errors: list[Problem] = field(default_factory=list)
    status: str = "rejected"

    def to_dict(self) -> dict[str, Any]:
        return {
            "accession": self.accession,
            "status": self.status,
            "provider": self.provider,
            "kind": self.kind,
            "sha256": self.sha256,
            "filename": self.filename,
            "filed_at": self.filed_at.isoformat() if self.filed_at else None,
            "errors": [p.to_dict() for p in self.errors],
        }


def errors_json(problems: list[Problem]) -> str:
    return json.dumps([p.to_dict() for p in problems], ensure_ascii=False)


def outcome_of(filing: Filing, provider_slug: str, *, duplicate: bool = False) -> Receipt | Rejection:
    """The receipt (or rejection) of a stored filing, as it was issued."""
    if filing.status == "rejected":
        problems = [Problem(p["row"], p["column"], p["message"]) for p in json.loads(filing.errors_json or "[]")]
        return Rejection(filing.accession, provider_slug, filing.kind, filing.sha256, filing.filename,
                         filing.filed_at, problems)
    return Receipt(
        accession=filing.accession, provider=provider_slug, kind=filing.kind, sha256=filing.sha256,
        filename=filing.filename, format=filing.file_format, size_bytes=filing.size_bytes,
        channel=filing.channel, filed_by=filing.filed_by, filed_at=filing.filed_at,
        records=filing.record_count, superseded=filing.superseded_count, duplicate=duplicate,
    )
