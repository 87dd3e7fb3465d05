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

import sqlalchemy as sa
import sqlalchemy.orm
from sqlmodel import Session

from tracker.filing.problems import Problem
from tracker.store import audit
from tracker.store.models import ComputeCluster, Filing, InferenceUsage, SystemCondition, TrainingRun

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
    audit_head: dict[str, Any] | None = None  # {id, hash} of the filing's audit entry: the provider's evidence
    # Accessions of the later filings that replaced this one's records (a re-filed old file must
    # not look current); ``current`` counts the records still in force.
    superseded_by: tuple[str, ...] = ()
    current: int | None = None

    @property
    def note(self) -> str | None:
        """What a filer must know beyond the figures: that a re-filed file is no longer current."""
        if not self.superseded_by:
            return None
        whole = "all of its records were" if self.current == 0 else "some of its records were"
        return (f"this filing is not current: {whole} superseded by later filing"
                f"{'s' if len(self.superseded_by) > 1 else ''} {', '.join(self.superseded_by)}; re-filing the "
                "same bytes does not restore them (file them again with a change, or file the amendment's "
                "correction)")

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
            "audit_head": self.audit_head,
            "superseded_by": list(self.superseded_by),
            "current_records": self.records if self.current is None else self.current,
            "note": self.note,
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
    audit_head: dict[str, Any] | None = None

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
            "audit_head": self.audit_head,
        }


def errors_json(problems: list[Problem]) -> str:
    return json.dumps([p.to_dict() for p in problems], ensure_ascii=False)


def superseding(session: Session, filing: Filing) -> tuple[tuple[str, ...], int]:
    """The accessions of the filings that superseded some of ``filing``'s records, and how many of
    its records are still current. Both sides are the same provider's: records supersede only
    their own provider's records (store.py)."""
    model = _RECORDS.get(filing.kind)
    if model is None or filing.status != "accepted":
        return (), filing.record_count
    old, new = sa.orm.aliased(model), sa.orm.aliased(model)
    later = session.execute(
        sa.select(Filing.accession).distinct()  # type: ignore[call-overload]
        .select_from(old).join(new, old.superseded_by_id == new.id).join(Filing, Filing.id == new.filing_id)
        .where(old.filing_id == filing.id, old.is_current.is_(False)).order_by(Filing.accession)
    ).scalars().all()
    current = session.execute(
        sa.select(sa.func.count()).select_from(model).where(model.filing_id == filing.id, model.is_current)
    ).scalar_one()
    return tuple(later), int(current)


def outcome_of(filing: Filing, provider_slug: str, *, duplicate: bool = False,
               audit_head: dict[str, Any] | None = None, session: Session | None = None) -> Receipt | Rejection:
    """The receipt (or rejection) of a stored filing, as it was issued; with a ``session``, also
    whether later filings have superseded its records since."""
    if audit_head is None and session is not None:
        audit_head = audit.entry_for(session, "filing", filing.accession)  # the head its receipt carried
    if filing.status == "rejected":
        problems = [Problem(p["row"], p["column"], p["message"]) for p in json.loads(filing.errors_json or "[]")]
        return Rejection(filing.accession, provider_slug, filing.kind, filing.sha256, filing.filename,
                         filing.filed_at, problems, audit_head=audit_head)
    return Receipt(
        accession=filing.accession, provider=provider_slug, kind=filing.kind, sha256=filing.sha256,
        filename=filing.filename, format=filing.file_format, size_bytes=filing.size_bytes,
        channel=filing.channel, filed_by=filing.filed_by, filed_at=filing.filed_at,
        records=filing.record_count, superseded=filing.superseded_count, duplicate=duplicate,
        audit_head=audit_head, **_superseding_fields(session, filing),
    )


def _superseding_fields(session: Session | None, filing: Filing) -> dict[str, Any]:
    if session is None:
        return {}
    later, current = superseding(session, filing)
    return {"superseded_by": later, "current": current}


_RECORDS: dict[str, Any] = {"training_runs": TrainingRun, "inference_usage": InferenceUsage,
                            "clusters": ComputeCluster, "system_conditions": SystemCondition}
