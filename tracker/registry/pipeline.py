"""Re-estimate every system and evaluate every regime, then store what changed.

This is the shell around ``compute_registry``: one read of the filed records, the pure engines,
and one write transaction holding new estimates, flags, flag history, discrepancies, their
alerts (the transactional outbox) and the audit entries. Unchanged estimates and flags are not
rewritten, so running it twice in a row writes nothing the second time (the job is idempotent).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.catalog.accelerators import Catalog, load_catalog
from tracker.config import Settings, get_settings
from tracker.regimes.load import load_regimes
from tracker.regimes.model import Regime
from tracker.registry.compute import RegistryResult, compute_registry
from tracker.registry.discrepancies import alert_open_discrepancies, record_discrepancies
from tracker.registry.estimates import write_estimates
from tracker.registry.flags import ALERTING_STATUSES, write_flags, write_transitions
from tracker.registry.inputs import load_inputs
from tracker.store import audit
from tracker.store.db import session_scope
from tracker.store.models import Regime as RegimeRow
from tracker.store.types import utcnow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationSummary:
    as_of: date
    systems: int
    clusters: int
    estimates_written: int
    flags_written: int
    transitions: int
    alerts: int
    discrepancies: int
    status_counts: dict[str, int]

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.status_counts.items()))
        return (f"evaluated {self.systems} systems and {self.clusters} clusters on {self.as_of}: "
                f"{self.estimates_written} estimates and {self.flags_written} flags written, "
                f"{self.transitions} flag changes, {self.alerts} alerts, {self.discrepancies} new "
                f"discrepancies; flags: {counts or 'none'}")


def default_regimes(settings: Settings | None = None) -> list[Regime]:
    settings = settings or get_settings()
    extra = [settings.regimes_extra_path] if settings.regimes_extra_path else None
    return load_regimes(extra=extra)


def sync_regimes(session: Session, regimes: list[Regime], actor: str) -> int:
    """Store the regime definitions (flags reference them); audit every change."""
    existing = {r.id: r for r in session.exec(select(RegimeRow)).all()}
    changed = 0
    for regime in regimes:
        definition = regime.model_dump_json(by_alias=True)
        row = existing.get(regime.id)
        values: dict[str, Any] = {
            "jurisdiction": regime.jurisdiction, "instrument": regime.instrument,
            "metric": regime.metric, "comparator": regime.comparator, "threshold": regime.threshold,
            "state": regime.status.state, "obligation": regime.obligation,
            "addressee": regime.addressee,
            "deadline": str(regime.deadline) if regime.deadline is not None else None,
            "deadline_calendar": regime.deadline_calendar or "calendar",
            "definition_json": definition, "custom": bool(getattr(regime, "custom", False)),
        }
        if row is not None and row.definition_json == definition:
            continue
        if row is None:
            session.add(RegimeRow(id=regime.id, **values))
        else:
            for key, value in values.items():
                setattr(row, key, value)
            row.updated_at = utcnow()
        audit.record(session, actor=actor, action="regime.change" if row else "regime.add",
                     entity="regime", entity_id=regime.id, details={"threshold": regime.threshold})
        changed += 1
    session.flush()
    return changed


def run_evaluation(engine: Engine, as_of: date, actor: str = "system", *,
                   regimes: list[Regime] | None = None, catalog: Catalog | None = None,
                   settings: Settings | None = None) -> EvaluationSummary:
    settings = settings or get_settings()
    regimes = regimes if regimes is not None else default_regimes(settings)
    catalog = catalog or load_catalog()
    with Session(engine) as session:
        inputs = load_inputs(session)
    result = compute_registry(inputs, catalog, regimes, as_of)
    with session_scope(engine) as session:
        sync_regimes(session, regimes, actor)
        written = write_estimates(session, result)
        flags_written = write_flags(session, result)
        transitions, alerts = write_transitions(session, result, actor, settings)
        discrepancies = record_discrepancies(session, result)
        alerts += alert_open_discrepancies(session, settings)
        counts = _status_counts(result)
        summary = EvaluationSummary(
            as_of=as_of, systems=result.systems.height, clusters=result.clusters.height,
            estimates_written=written, flags_written=flags_written, transitions=transitions,
            alerts=alerts, discrepancies=discrepancies, status_counts=counts,
        )
        audit.record(session, actor=actor, action="evaluation.run", entity="registry",
                     entity_id=as_of.isoformat(), details=summary.__dict__ | {"as_of": as_of.isoformat()})
    log.info(summary.line())
    return summary


def _status_counts(result: RegistryResult) -> dict[str, int]:
    flags = result.evaluation.flags.filter(pl.col("status").is_in(ALERTING_STATUSES))
    if flags.height == 0:
        return {}
    counts = flags.group_by("status").len()
    return {str(k): int(v) for k, v in counts.iter_rows()}


def today_utc() -> date:
    return datetime.now(UTC).date()
