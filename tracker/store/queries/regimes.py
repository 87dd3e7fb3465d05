"""Regimes with how many systems they catch, and flags.

Each regime row carries what the regimes page shows in words: its ``name``, its sources as
``source_links`` (key and address), and ``unknown_reason``, why the tracker cannot assess it (from
the regime definition: such regimes have no per-system flags to say it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
import sqlalchemy as sa
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.models import (
    Regime,
)
from tracker.store.queries.common import (
    CROSSING,
    SC,
    F,
    P,
    R,
    Row,
    S,
    model_dict,
    parse_json,
    status_label,
)
from tracker.store.queries.confidential import confidential_lineage, without_masked_flags
from tracker.store.queries.regime_labels import regime_name, regime_names, source_links


def list_regimes_with_counts(session: Session, scope: Scope) -> list[Row]:
    """Every regime with its definition and how many systems (in scope) it catches."""
    # From the narrow copy of the crossing flags (see overview_counts), not the flag table.
    counts_q = (sa.select(SC.regime_id, SC.status_rank, SC.projected, sa.func.count().label("n"))
                .group_by(SC.regime_id, SC.status_rank, SC.projected))
    counts: dict[str, Row] = {}
    counts_q = without_masked_flags(session, counts_q, SC.system_id, SC.regime_id,
                                    confidential_lineage(session, scope))
    for rid, rank, projected, n in session.execute(scope.restrict(counts_q, SC.provider_id)):
        entry = counts.setdefault(rid, {"above": 0, "likely_above": 0, "projected": 0})
        entry["projected" if projected else status_label(rank) or "unknown"] += n
    out = []
    shipped = _shipped_reasons()
    for regime in session.execute(sa.select(Regime).order_by(R.jurisdiction, R.id)).scalars():
        loaded = parse_json(regime.definition_json)
        definition: dict[str, Any] = loaded if isinstance(loaded, dict) else {}
        raw_status = definition.get("status")
        events: dict[str, Any] = raw_status if isinstance(raw_status, dict) else {}
        row = model_dict(regime)
        row.pop("definition_json")
        c = counts.get(regime.id, {"above": 0, "likely_above": 0, "projected": 0})
        listed = definition.get("sources")
        sources: list[Any] = listed if isinstance(listed, list) else []
        out.append({**row, **c, "catches": c["above"] + c["likely_above"],
                    "dates": {k: str(v) for k, v in events.items() if k != "state"},
                    "sources": sources, "definition": definition,
                    "name": regime_name(regime.id, regime.jurisdiction, regime.instrument),
                    "source_links": [{"key": link.key, "url": link.url} for link in source_links(sources)],
                    "unknown_reason": _unknown_reason(regime.metric, regime.definition_json, shipped)})
    return out


def _unknown_reason(metric: str, definition_json: str, shipped: Mapping[str, str | None]) -> str | None:
    """Why the tracker cannot assess the regime (``Regime.unknown_reason``), or None when it can.

    The stored (effective) metric decides first: a number the regulator set makes a regime
    assessable. Otherwise the regime file's own reason is used (the stored definition has every
    optional field written out, so it no longer tells whether the file lets the regulator set a
    number); a regime no longer in the files is judged from its stored definition."""
    from tracker.regimes.model import HELD_METRICS, Regime  # the regime model; loaded on use

    if metric in HELD_METRICS:
        return None
    try:
        regime = Regime.model_validate_json(definition_json)
    except (pydantic.ValidationError, ValueError):
        return f"needs {metric}, which the tracker does not hold"
    return shipped[regime.id] if regime.id in shipped else regime.unknown_reason


def _shipped_reasons() -> dict[str, str | None]:
    """``unknown_reason`` of each regime in the regime files (re-read only when a file changes)."""
    from tracker.registry.pipeline import default_regimes  # the evaluation's own regime list

    try:
        return {regime.id: regime.unknown_reason for regime in default_regimes()}
    except (OSError, ValueError):
        return {}  # an unreadable operator file: the stored definitions still answer


def list_flags(session: Session, scope: Scope, *, crossing_only: bool = True, limit: int = 500) -> list[Row]:
    """The scope's systems' flags, soonest deadline first, each with its regime's name and metric
    (the unit its value and threshold are written in)."""
    q = (sa.select(F.regime_id, R.metric, F.status, F.projected, F.value_central, F.threshold, F.deadline,
                   F.notified_at, S.id.label("system_id"), S.name.label("system"), S.version,
                   P.slug.label("provider"))
         .join(S, sa.and_(F.subject_kind == "system", F.subject_id == S.id)).join(P, P.id == S.provider_id)
         .join(R, R.id == F.regime_id)
         .order_by(F.deadline.is_(None), F.deadline, S.name).limit(limit))
    if crossing_only:
        q = q.where(F.status.in_(CROSSING))
    q = without_masked_flags(session, q, S.id, F.regime_id, confidential_lineage(session, scope))
    rows = [dict(r._mapping) for r in session.execute(scope.restrict(q, S.provider_id))]
    names = regime_names(session, {r["regime_id"] for r in rows}) if rows else {}
    return [{**r, "regime_name": names.get(r["regime_id"], r["regime_id"])} for r in rows]
