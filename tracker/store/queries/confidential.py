"""What a provider may read about its systems built on another provider's confidential system.

A fine-tune's cumulative training compute includes its base's (methodology §7). When the base
belongs to another provider and its figures are not public (``AISystem.figures_public``; filed
before the lineage rule of docs/filing.md, or made confidential again since), the regulator keeps
the whole figure, but in that provider's scope every figure that depends on the lineage is masked
here, in the query layer, whatever view asks:

* the cumulative training estimate keeps only a lower bound it is entitled to, the system's own
  compute (``low`` = the low end of its own runs' estimate; ``central`` and ``high`` withheld);
  the projected estimate is withheld;
* flags on metrics that read the lineage (``LINEAGE_METRICS``) read ``unknown`` with
  ``MASK_REASON``, without values or dates, and their history is left out;
* the summaries (grid, overview) show the same bound and an ``unknown`` status, and the crossing
  counts leave such systems out.

Regulators and admins see everything unmasked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.queries.common import A, E, R, Row, S

# Metrics whose value reads the base system's compute (own-compute metrics are not masked).
LINEAGE_METRICS = frozenset({"training_flop_cumulative", "training_flop_param_updates", "relative_to_largest_run",
                             "modification_flop_ratio"})
MASK_REASON = ("includes another provider's confidential compute (its base system): the regulator holds the "
               "cumulative figure; shown here is at least this system's own compute")
MAX_DEPTH = 64  # deeper (or looping) lineages are masked without reading further
_CHUNK = 500


def confidential_lineage(session: Session, scope: Scope, system_ids: Iterable[int] | None = None) -> frozenset[int]:
    """The scope's own systems (among ``system_ids``, or all) whose lineage includes another
    provider's system whose figures are not public. Empty for regulators and admins.

    Reads the base links a generation at a time: one query per generation, whatever the count."""
    if scope.sees_everything:
        return frozenset()
    owner = scope.provider_id
    based = sa.select(S.id, S.base_system_id).where(S.provider_id == owner, S.base_system_id.is_not(None))
    current: dict[int, int] = {}
    if system_ids is None:
        current.update((int(i), int(b)) for i, b in session.execute(based))
    else:
        ids = sorted(set(system_ids))
        for start in range(0, len(ids), _CHUNK):
            part = ids[start:start + _CHUNK]
            current.update((int(i), int(b)) for i, b in session.execute(based.where(S.id.in_(part))))
    masked: set[int] = set()
    known: dict[int, tuple[int, bool, int | None]] = {}
    for _ in range(MAX_DEPTH):
        if not current:
            break
        wanted = sorted({a for a in current.values() if a not in known})
        for start in range(0, len(wanted), _CHUNK):
            known.update((int(i), (int(p), bool(pub), b)) for i, p, pub, b in session.execute(
                sa.select(S.id, S.provider_id, S.figures_public, S.base_system_id)
                .where(S.id.in_(wanted[start:start + _CHUNK]))))
        following: dict[int, int] = {}
        for system, ancestor in current.items():
            found = known.get(ancestor)
            if found is None:
                continue
            provider, public, base = found
            if provider != owner and not public:
                masked.add(system)
            elif base is not None:
                following[system] = base
        current = following
    masked.update(current)  # still climbing after MAX_DEPTH generations: a loop or an absurd depth
    return frozenset(masked)


def masked_expr(expr: Any, id_column: Any, masked: frozenset[int], replacement: Any = None) -> Any:
    """``expr``, or ``replacement`` (NULL by default) on the masked systems' rows, in the SQL itself,
    so sorting and filtering see only what the scope may read."""
    if not masked:
        return expr
    return sa.case((id_column.in_(sorted(masked)), replacement), else_=expr)


def own_low_expr(id_column: Any) -> Any:
    """The low end of the system's own compute (its current ``modification`` estimate)."""
    return (sa.select(E.low_flop).where(E.system_id == id_column, E.kind == "modification", E.is_current.is_(True))
            .limit(1).scalar_subquery())


def mask_training_estimate(row: Row, own: Row | None) -> Row:
    """A ``training`` estimate row (system page shape) reduced to the bound the provider may read."""
    low = own.get("low") if own else None
    return {**row, "central": None, "low": low, "high": None, "confidence": None,
            "methods": list(own.get("methods") or []) if own else [], "masked": True, "note": MASK_REASON}


def mask_flag(row: Row) -> Row:
    """A flag row of a masked system: unchanged unless its metric reads the lineage."""
    if row.get("metric") not in LINEAGE_METRICS:
        return row
    return {**row, "status": "unknown", "projected": False, "value_central": None, "value_low": None,
            "value_high": None, "crossed_on": None, "first_flagged_on": None, "deadline": None,
            "reason": MASK_REASON, "masked": True,
            # The tier and the conditions held follow from the hidden figure too.
            **({"tier": None} if "tier" in row else {}),
            **({"conditional": False, "unheld_conditions": None} if "conditional" in row else {})}


def lineage_regimes(session: Session) -> frozenset[str]:
    """Ids of the regimes whose metric reads the lineage."""
    return frozenset(str(r) for r in session.execute(sa.select(R.id).where(R.metric.in_(sorted(LINEAGE_METRICS))))
                     .scalars())


def without_masked(query: Any, id_column: Any, masked: frozenset[int]) -> Any:
    """``query`` without the masked systems' rows."""
    return query.where(id_column.not_in(sorted(masked))) if masked else query


def without_masked_flags(session: Session, query: Any, id_column: Any, regime_column: Any,
                         masked: frozenset[int]) -> Any:
    """``query`` without the masked systems' flags (or crossings) on lineage metrics: a count or a
    list of them would tell the provider where the confidential figure lies."""
    if not masked:
        return query
    hidden = sorted(lineage_regimes(session))
    return query.where(sa.or_(id_column.not_in(sorted(masked)), regime_column.not_in(hidden)))


def without_masked_alerts(session: Session, query: Any, masked: frozenset[int]) -> Any:
    """``query`` (over ``alert``) without the masked systems' alerts that carry a lineage figure:
    those of lineage regimes and those of no regime (discrepancies). Alerts of no system stay."""
    if not masked:
        return query
    hidden = sorted(lineage_regimes(session))
    return query.where(sa.or_(A.system_id.is_(None), A.system_id.not_in(sorted(masked)),
                              sa.and_(A.regime_id.is_not(None), A.regime_id.not_in(hidden))))


