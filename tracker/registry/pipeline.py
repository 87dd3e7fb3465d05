"""Re-estimate systems and evaluate every regime, then store what changed.

This is the shell around ``compute_registry``: one read of the filed records, the pure engines,
and one write transaction holding new estimates, flags, flag history, discrepancies, their
alerts (the transactional outbox) and the audit entries. Unchanged estimates and flags are not
rewritten, so running it twice in a row writes nothing the second time (the job is idempotent).

Two scopes:

* ``run_evaluation`` evaluates the whole registry (nightly, ``tracker evaluate``): the reference.
* ``evaluate_after_filings`` (after an accepted filing) evaluates only what the filings accepted
  since the last evaluation changed: their systems and lineage descendants, and their clusters,
  reading those plus the lineage ancestors their cumulative compute is summed over. It runs the
  same ``compute_registry`` on that subset and writes rows of those subjects only, so the store
  ends as a whole-registry run would leave it. That holds only relative to a baseline: the last
  evaluation must have used the same day, regimes, catalog and methodology (its audit entry
  records their fingerprint and the newest filing it read); otherwise, or when a regime compares
  systems with the whole registry, or when the subset is a large part of the registry anyway,
  it runs the whole-registry evaluation instead.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.catalog.accelerators import Catalog, load_catalog
from tracker.config import Settings, get_settings
from tracker.estimate import METHODOLOGY_VERSION
from tracker.regimes.evaluate import Evaluation
from tracker.regimes.load import DEFAULT_REGIMES_PATH, load_regimes
from tracker.regimes.model import Regime
from tracker.regimes.settings import with_stored_settings
from tracker.registration.obligations import open_obligations
from tracker.registry.compute import RegistryResult, compute_registry
from tracker.registry.discrepancies import alert_open_discrepancies, record_discrepancies
from tracker.registry.estimates import write_estimates
from tracker.registry.flags import ALERTING_STATUSES, write_flags, write_transitions
from tracker.registry.inputs import (
    CLUSTER_PREFIX,
    RegistryInputs,
    Subset,
    evaluation_subset,
    filing_touches,
    latest_accepted_filing_id,
    lineage_edges,
    load_inputs,
)
from tracker.registry.problems import alert_set_aside
from tracker.store import audit
from tracker.store.db import session_scope
from tracker.store.models import AISystem, AuditEvent, columns
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
    scope: str = "registry"  # "registry": every system; "filings": what filings since the last run changed
    filings_through: int = 0  # the newest accepted filing whose records this evaluation read
    basis: str = ""  # fingerprint of the day, regimes, catalog and methodology (evaluation_basis)
    set_aside: int = 0  # systems left unestimated because their lineage loops (RegistryResult.set_aside)
    obligations_opened: int = 0  # registrations opened `due` by this evaluation's crossings

    def line(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.status_counts.items()))
        scope = "" if self.scope == "registry" else f" (after filings through #{self.filings_through})"
        return (f"evaluated {self.systems} systems and {self.clusters} clusters on {self.as_of}{scope}: "
                f"{self.estimates_written} estimates and {self.flags_written} flags written, "
                f"{self.transitions} flag changes, {self.alerts} alerts, {self.discrepancies} new "
                f"discrepancies; flags: {counts or 'none'}"
                + (f"; {self.set_aside} systems set aside (lineage cycle)" if self.set_aside else ""))


def default_regimes(settings: Settings | None = None) -> list[Regime]:
    """The shipped regimes plus the operator's file, re-read only when a file changes: parsing the
    YAML costs more than evaluating the few systems a filing touches."""
    settings = settings or get_settings()
    files = [DEFAULT_REGIMES_PATH, *([settings.regimes_extra_path] if settings.regimes_extra_path else [])]
    try:
        state = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in map(Path, files))
    except OSError:
        return load_regimes(extra=files[1:] or None)  # reports the unreadable file
    return list(_regimes_of(state))


@functools.lru_cache(maxsize=4)
def _regimes_of(state: tuple[tuple[str, int, int], ...]) -> tuple[Regime, ...]:
    default, *extra = (Path(name) for name, _, _ in state)
    return tuple(load_regimes(default, extra=extra or None))


def sync_regimes(session: Session, regimes: list[Regime], actor: str) -> int:
    """Store the regime definitions (flags reference them); audit every change."""
    existing = {r.id: r for r in session.exec(select(RegimeRow)).all()}
    changed = 0
    for regime in regimes:
        definition = regime.model_dump_json(by_alias=True)
        row = existing.get(regime.id)
        values: dict[str, Any] = {
            "jurisdiction": regime.jurisdiction, "instrument": regime.instrument,
            # What the evaluation compares: a regulator-set threshold replaces the text's null.
            "metric": regime.effective_metric, "comparator": regime.effective_comparator,
            "threshold": regime.effective_threshold,
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
                     entity="regime", entity_id=regime.id,
                     details={"threshold": regime.effective_threshold})
        changed += 1
    session.flush()
    return changed


def evaluation_basis(as_of: date, regimes: list[Regime], catalog: Catalog) -> str:
    """Fingerprint of everything an evaluation depends on besides the filed records and the
    stored flags: two evaluations with the same basis compute the same figures from the same records."""
    digest = hashlib.sha256()
    digest.update(f"{as_of.isoformat()}|{METHODOLOGY_VERSION}|".encode())
    for definition in sorted(r.model_dump_json(by_alias=True) for r in regimes):
        digest.update(definition.encode())
    digest.update(catalog.frame.write_csv().encode())
    return digest.hexdigest()


def run_evaluation(engine: Engine, as_of: date, actor: str = "system", *,
                   regimes: list[Regime] | None = None, catalog: Catalog | None = None,
                   settings: Settings | None = None) -> EvaluationSummary:
    """Re-estimate and evaluate the whole registry (the reference evaluation)."""
    settings = settings or get_settings()
    regimes = regimes if regimes is not None else default_regimes(settings)
    catalog = catalog or load_catalog()
    with Session(engine) as session:
        regimes = with_stored_settings(session, regimes)  # the regulator's thresholds (idempotent)
        # Read first: a filing committed while the records are read is then evaluated again later.
        through = latest_accepted_filing_id(session)
        inputs = load_inputs(session)
    result = compute_registry(inputs, catalog, regimes, as_of)
    return _store(engine, result, None, as_of=as_of, actor=actor, regimes=regimes, settings=settings,
                  through=through, basis=evaluation_basis(as_of, regimes, catalog))


# Above this share of the registry, reading a subset costs more than it saves.
WHOLE_REGISTRY_SHARE = 0.25


@dataclass(frozen=True)
class LastEvaluation:
    basis: str
    filings_through: int


def last_evaluation(session: Session) -> LastEvaluation | None:
    """The basis and filing watermark the newest evaluation recorded (None: no usable record)."""
    a = columns(AuditEvent)
    found = session.execute(
        sa.select(a.details_json).where(a.action == "evaluation.run").order_by(a.id.desc()).limit(1)
    ).scalar_one_or_none()
    if found is None:
        return None
    details = json.loads(found)
    if not details.get("basis") or "filings_through" not in details:
        return None  # written before evaluations recorded them
    return LastEvaluation(str(details["basis"]), int(details["filings_through"]))


def ranks_against_registry(regimes: list[Regime], as_of: date) -> bool:
    """True when some regime evaluated on ``as_of`` compares each system with the whole registry
    (relative to the largest run, without a fixed reference): a subset cannot be evaluated alone."""
    return any(r.metric == "relative_to_largest_run" and r.reference_flop is None
               and r.phase_on(as_of) != "inactive" for r in regimes)


def evaluate_after_filings(engine: Engine, as_of: date, actor: str = "system", *,
                           regimes: list[Regime] | None = None, catalog: Catalog | None = None,
                           settings: Settings | None = None) -> EvaluationSummary:
    """Evaluate what the filings accepted since the last evaluation changed (module docstring);
    the whole registry when that cannot give the same result or would not be faster."""
    settings = settings or get_settings()
    regimes = regimes if regimes is not None else default_regimes(settings)
    catalog = catalog or load_catalog()
    with Session(engine) as session:
        # Before the basis: a changed regulator threshold changes it, so everything is re-evaluated.
        regimes = with_stored_settings(session, regimes)
    basis = evaluation_basis(as_of, regimes, catalog)

    plan = _plan_after_filings(engine, regimes, as_of, basis)
    if isinstance(plan, str):
        log.info("evaluating the whole registry after filings: %s", plan)
        return run_evaluation(engine, as_of, actor, regimes=regimes, catalog=catalog, settings=settings)
    if plan.inputs is None:
        return EvaluationSummary(as_of=as_of, systems=0, clusters=0, estimates_written=0, flags_written=0,
                                 transitions=0, alerts=0, discrepancies=0, status_counts={}, scope="filings",
                                 filings_through=plan.through, basis=basis)
    result = only_subjects(compute_registry(plan.inputs, catalog, regimes, as_of), plan.subjects)
    return _store(engine, result, plan.subjects, as_of=as_of, actor=actor, regimes=regimes, settings=settings,
                  through=plan.through, basis=basis)


@dataclass(frozen=True)
class _SubsetPlan:
    subjects: Subset
    inputs: RegistryInputs | None  # None: the filings changed no system or cluster
    through: int


def _plan_after_filings(engine: Engine, regimes: list[Regime], as_of: date, basis: str) -> _SubsetPlan | str:
    """The subjects and the records to evaluate them from, or why the whole registry must be evaluated."""
    if ranks_against_registry(regimes, as_of):
        return "a regime ranks systems against the whole registry"
    with Session(engine) as session:
        last = last_evaluation(session)
        if last is None or last.basis != basis:
            return "no earlier evaluation on this day with these regimes, catalog and methodology"
        through = latest_accepted_filing_id(session)
        touched = filing_touches(session, last.filings_through, through)
        if not touched.system_ids and not touched.cluster_ids:
            return _SubsetPlan(Subset.of(()), None, last.filings_through)
        subjects, readable = evaluation_subset(touched, lineage_edges(session))
        registry_size = int(session.execute(sa.select(sa.func.count()).select_from(AISystem)).scalar_one())
        if len(subjects.system_ids) > WHOLE_REGISTRY_SHARE * registry_size:
            return f"the filings reach {len(subjects.system_ids)} of {registry_size} systems"
        return _SubsetPlan(subjects, load_inputs(session, readable), through)


def only_subjects(result: RegistryResult, subjects: Subset) -> RegistryResult:
    """The part of ``result`` about ``subjects`` (the rest are inputs: ancestors read for their
    compute, whose own figures the filings cannot have changed). Pure."""
    systems = pl.Series([str(i) for i in subjects.system_ids], dtype=pl.String)
    clusters = pl.Series([f"{CLUSTER_PREFIX}{i}" for i in subjects.cluster_ids], dtype=pl.String)
    keys = pl.concat([systems, clusters])
    evaluation = result.evaluation
    return RegistryResult(
        run_estimates=result.run_estimates.filter(pl.col("system_key").is_in(systems.implode())),
        systems=result.systems.filter(pl.col("system_key").is_in(systems.implode())),
        clusters=result.clusters.filter(pl.col("cluster_key").is_in(clusters.implode())),
        evaluation=Evaluation(
            flags=evaluation.flags.filter(pl.col("subject_key").is_in(keys.implode())),
            transitions=evaluation.transitions.filter(pl.col("subject_key").is_in(keys.implode())),
            first_evaluated=evaluation.first_evaluated.filter(pl.col("subject_key").is_in(keys.implode())),
        ),
        inference_periods=result.inference_periods.filter(pl.col("system_key").is_in(systems.implode())),
        set_aside=result.set_aside.filter(pl.col("system_key").is_in(systems.implode())),
    )


def _store(engine: Engine, result: RegistryResult, subset: Subset | None, *, as_of: date, actor: str,
           regimes: list[Regime], settings: Settings, through: int, basis: str) -> EvaluationSummary:
    """One transaction: the changed rows of ``result``'s subjects, their history, alerts and audit."""
    with session_scope(engine) as session:
        sync_regimes(session, regimes, actor)
        written = write_estimates(session, result, subset)
        flags_written = write_flags(session, result, subset,
                                    unassessable=[r.id for r in regimes if r.unknown_reason is not None])
        opened = open_obligations(session, result.evaluation.flags, result.systems,
                                  {r.id: r.obligation for r in regimes if r.obligation},
                                  actor=actor, settings=settings)
        transitions, alerts = write_transitions(session, result, actor, settings)
        discrepancies = record_discrepancies(session, result, subset)
        alerts += alert_open_discrepancies(session, settings)
        alerts += alert_set_aside(session, result, settings)
        counts = _status_counts(result)
        summary = EvaluationSummary(
            as_of=as_of, systems=result.systems.height, clusters=result.clusters.height,
            estimates_written=written, flags_written=flags_written, transitions=transitions,
            alerts=alerts, discrepancies=discrepancies, status_counts=counts,
            scope="registry" if subset is None else "filings", filings_through=through, basis=basis,
            set_aside=result.set_aside.height, obligations_opened=opened,
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
