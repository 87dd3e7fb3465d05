"""Filings with their receipts, error reports and amendment chains."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.models import (
    ComputeCluster,
    InferenceUsage,
    TrainingRun,
)
from tracker.store.queries.common import (
    FI,
    MAX_PAGE_ROWS,
    P,
    Row,
    model_dict,
    parse_json,
)


def list_filings(session: Session, scope: Scope, *, limit: int = 100, offset: int = 0,
                 status: str | None = None) -> tuple[list[Row], int]:
    """Newest filings first, with their provider; ``total`` counts all matching."""
    q = scope.restrict(sa.select(FI, P.slug).join(P, P.id == FI.provider_id), FI.provider_id)
    count = scope.restrict(sa.select(sa.func.count()).select_from(FI), FI.provider_id)
    if status:
        q, count = q.where(FI.status == status), count.where(FI.status == status)
    rows = session.execute(q.order_by(FI.filed_at.desc(), FI.id.desc())
                           .offset(max(offset, 0)).limit(min(limit, MAX_PAGE_ROWS))).all()
    out = []
    for filing, slug in rows:
        row = model_dict(filing)
        row.pop("stored_path", None)  # a server path is nobody's business outside the server
        row["provider"] = slug
        row["error_count"] = len(_errors(filing.errors_json))
        out.append(row)
    return out, session.execute(count).scalar_one()

def _errors(text: str | None) -> list[Any]:
    value = parse_json(text)
    if isinstance(value, dict):
        value = value.get("errors", [value])
    return value if isinstance(value, list) else ([] if value is None else [value])

def _amendments(session: Session, filing_id: int) -> tuple[list[int], list[int]]:
    """(filings this one amended, filings that amended this one), through superseded records."""
    amends: set[int] = set()
    amended_by: set[int] = set()
    models: tuple[Any, ...] = (TrainingRun, InferenceUsage, ComputeCluster)
    for m in models:
        new: Any = aliased(m)
        pairs = sa.select(m.filing_id.label("old"), new.filing_id.label("new")).join(
            new, new.id == m.superseded_by_id)
        for old_id, new_id in session.execute(pairs.where(sa.or_(m.filing_id == filing_id,
                                                                 new.filing_id == filing_id))):
            if new_id == filing_id and old_id != filing_id:
                amends.add(old_id)
            if old_id == filing_id and new_id != filing_id:
                amended_by.add(new_id)
    return sorted(amends), sorted(amended_by)

def filing_detail(session: Session, scope: Scope, accession: str) -> Row | None:
    """One filing with its error report and amendments chain, or None outside the scope."""
    q = scope.restrict(sa.select(FI, P.slug).join(P, P.id == FI.provider_id)
                       .where(FI.accession == accession), FI.provider_id)
    found = session.execute(q).first()
    if found is None:
        return None
    filing, slug = found
    amends, amended_by = _amendments(session, filing.id)
    names = {r[0]: r[1] for r in session.execute(scope.restrict(
        sa.select(FI.id, FI.accession).where(FI.id.in_(amends + amended_by)), FI.provider_id))}
    row = model_dict(filing)
    row.pop("stored_path", None)
    return {**row, "provider": slug, "errors": _errors(filing.errors_json),
            "amends": [names[i] for i in amends if i in names],
            "amended_by": [names[i] for i in amended_by if i in names]}
