"""Re-estimate every system and evaluate every regime, then store what changed.

This is the shell around ``compute_registry``: one read of the filed records, the pure engines,
and one write transaction holding new estimates, flags, flag history, discrepancies, their
alerts (the transactional outbox) and the audit entries. Unchanged estimates and flags are not
rewritten, so running it twice in a row writes nothing the second time (the job is idempotent).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.catalog.accelerators import Catalog, load_catalog
from tracker.config import Settings, get_settings
from tracker.estimate import METHODOLOGY_VERSION
from tracker.regimes.load import load_regimes
from tracker.regimes.model import Regime
from tracker.registry.compute import RegistryResult, compute_registry
from tracker.registry.inputs import CLUSTER_PREFIX, load_inputs
from tracker.store import audit
from tracker.store.bulk import insert_frame
from tracker.store.db import session_scope
from tracker.store.models import AISystem, Discrepancy, Estimate, Flag, FlagEvent, Provider, columns
from tracker.store.models import Regime as RegimeRow
from tracker.store.types import utcnow

log = logging.getLogger(__name__)

ESTIMATE_KINDS: dict[str, str] = {
    "training": "training_flop",
    "modification": "own_training_flop",
    "projected": "projected_training_flop",
    "inference_30d": "inference_flop_30d",
}
PERIOD_INPUTS = ("input_tokens", "output_tokens", "requests", "mean_context_tokens", "accelerator",
                 "accelerator_hours", "utilization", "tokens_flop_central", "fleet_flop_central")
FLAG_FIELDS = ("status", "projected", "value_central", "value_low", "value_high", "threshold",
               "crossed_on", "first_flagged_on", "deadline", "reason")
ALERTING_STATUSES = ("above", "likely_above")
ID_CHUNK = 5_000


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
        written = _write_estimates(session, result)
        flags_written = _write_flags(session, result)
        transitions, alerts = _write_transitions(session, result, actor, settings)
        discrepancies = _record_discrepancies(session, result)
        alerts += _alert_open_discrepancies(session, settings)
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


# --- estimates ----------------------------------------------------------------------------

def estimates_long(result: RegistryResult) -> pl.DataFrame:
    """One row per system and estimate kind, shaped like the ``estimate`` table."""
    systems = result.systems
    runs_json = _run_inputs_json(result.run_estimates)
    parts = []
    for kind, prefix in ESTIMATE_KINDS.items():
        methods_col = "methods_inference" if kind == "inference_30d" else "methods"
        methods = (
            pl.col(methods_col).list.join(",") if methods_col in systems.columns else pl.lit("")
        )
        confidence = pl.col("confidence") if kind != "inference_30d" else pl.lit(None, pl.String)
        parts.append(
            systems.filter(pl.col(f"{prefix}_central").is_not_null()).select(
                pl.col("system_key").cast(pl.Int64).alias("system_id"),
                pl.lit(kind).alias("kind"),
                pl.col(f"{prefix}_central").alias("central_flop"),
                pl.col(f"{prefix}_low").alias("low_flop"),
                pl.col(f"{prefix}_high").alias("high_flop"),
                methods.fill_null("").alias("methods"),
                confidence.alias("confidence"),
            )
        )
    periods = result.inference_periods.filter(pl.col("inference_flop_central").is_not_null()).select(
        pl.col("system_key").cast(pl.Int64).alias("system_id"),
        pl.lit("inference_period").alias("kind"),
        pl.col("inference_flop_central").alias("central_flop"),
        pl.col("inference_flop_low").alias("low_flop"),
        pl.col("inference_flop_high").alias("high_flop"),
        pl.col("methods").list.join(",").fill_null("").alias("methods"),
        pl.lit(None, pl.String).alias("confidence"),
        "period_start", "period_end",
        pl.struct(PERIOD_INPUTS).struct.json_encode().alias("inputs_json"),
    )
    long = pl.concat(parts, how="diagonal_relaxed").join(runs_json, on="system_id", how="left")
    return pl.concat([long, periods], how="diagonal_relaxed")


def _run_inputs_json(run_estimates: pl.DataFrame) -> pl.DataFrame:
    """Each system's runs with every method's figure: the inputs an estimate rests on."""
    cols = ["run_key", "stage", "status",
            *[f"{m}_flop_{b}" for m in ("hardware", "architecture", "reported", "training")
              for b in ("central", "low", "high")],
            "utilization_used", "precision_used", "peak_flop_per_s", "notes"]
    present = [c for c in cols if c in run_estimates.columns]
    return (
        run_estimates.group_by("system_key")
        .agg(pl.struct(present).alias("runs"))
        .select(
            pl.col("system_key").cast(pl.Int64).alias("system_id"),
            pl.struct("runs").struct.json_encode().alias("inputs_json"),
        )
    )


def _write_estimates(session: Session, result: RegistryResult) -> int:
    new = estimates_long(result)
    conn = session.connection()
    e = columns(Estimate)
    current_rows = conn.execute(
        sa.select(e.id, e.system_id, e.kind, e.period_start, e.period_end, e.central_flop, e.low_flop,
                  e.high_flop).where(e.is_current)
    ).all()
    current = pl.DataFrame(
        [tuple(r) for r in current_rows], orient="row",
        schema={"id": pl.Int64, "system_id": pl.Int64, "kind": pl.String, "period_start": pl.Date,
                "period_end": pl.Date, "old_central": pl.Float64, "old_low": pl.Float64, "old_high": pl.Float64},
    )
    merged = new.join(current, on=["system_id", "kind", "period_start", "period_end"], how="full",
                      coalesce=True, nulls_equal=True)
    same = (
        _close(pl.col("central_flop"), pl.col("old_central"))
        & _close(pl.col("low_flop"), pl.col("old_low"))
        & _close(pl.col("high_flop"), pl.col("old_high"))
    )
    changed = merged.filter(~same.fill_null(False))
    retire = changed.filter(pl.col("id").is_not_null())["id"].to_list()
    for start in range(0, len(retire), ID_CHUNK):
        conn.execute(sa.update(Estimate.__table__)  # type: ignore[attr-defined]
                     .where(e.id.in_(retire[start:start + ID_CHUNK])).values(is_current=False))
    inserts = changed.filter(pl.col("central_flop").is_not_null()).select(
        "system_id", "kind", "period_start", "period_end", "central_flop", "low_flop", "high_flop", "methods",
        "confidence", "inputs_json",
        pl.lit(METHODOLOGY_VERSION).alias("methodology_version"),
        pl.lit(utcnow()).dt.replace_time_zone("UTC").alias("computed_at"),
        pl.lit(True).alias("is_current"),
    )
    return insert_frame(conn, Estimate.__table__, inserts)  # type: ignore[attr-defined]


def _close(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    both_null = a.is_null() & b.is_null()
    return both_null | ((a - b).abs() <= 1e-9 * pl.max_horizontal(a.abs(), b.abs()))


# --- flags ---------------------------------------------------------------------------------

def _subject_columns() -> list[pl.Expr]:
    is_cluster = pl.col("subject_key").str.starts_with(CLUSTER_PREFIX)
    return [
        pl.when(is_cluster).then(pl.lit("cluster")).otherwise(pl.lit("system")).alias("subject_kind"),
        pl.col("subject_key").str.strip_prefix(CLUSTER_PREFIX).cast(pl.Int64).alias("subject_id"),
    ]


def _write_flags(session: Session, result: RegistryResult) -> int:
    conn = session.connection()
    new = result.evaluation.flags.with_columns(_subject_columns())
    f = columns(Flag)
    rows = conn.execute(sa.select(
        f.id, f.subject_kind, f.subject_id, f.regime_id, f.notified_by, *[f[name] for name in FLAG_FIELDS],
    )).all()
    schema = {"id": pl.Int64, "subject_kind": pl.String, "subject_id": pl.Int64, "regime_id": pl.String,
              "notified_by": pl.String, "old_status": pl.String, "old_projected": pl.Boolean,
              "old_value_central": pl.Float64, "old_value_low": pl.Float64, "old_value_high": pl.Float64,
              "old_threshold": pl.Float64, "old_crossed_on": pl.Date, "old_first_flagged_on": pl.Date,
              "old_deadline": pl.Date, "old_reason": pl.String}
    old = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    merged = new.join(old, on=["subject_kind", "subject_id", "regime_id"], how="left")
    same = pl.all_horizontal(
        [_close(pl.col(f), pl.col(f"old_{f}")) if f.startswith(("value", "threshold"))
         else (pl.col(f).eq_missing(pl.col(f"old_{f}"))) for f in FLAG_FIELDS]
    )
    changed = merged.filter(~same.fill_null(False))
    retire = changed.filter(pl.col("id").is_not_null())["id"].to_list()
    for start in range(0, len(retire), ID_CHUNK):
        conn.execute(sa.delete(Flag.__table__).where(f.id.in_(retire[start:start + ID_CHUNK])))  # type: ignore[attr-defined]
    inserts = changed.select(
        "subject_kind", "subject_id", "regime_id", *FLAG_FIELDS, "notified_at", "notified_by",
        pl.lit(utcnow()).dt.replace_time_zone("UTC").alias("evaluated_at"),
    )
    return insert_frame(conn, Flag.__table__, inserts)  # type: ignore[attr-defined]


def _write_transitions(session: Session, result: RegistryResult, actor: str,
                       settings: Settings) -> tuple[int, int]:
    conn = session.connection()
    transitions = result.evaluation.transitions.with_columns(_subject_columns())
    if transitions.height == 0:
        return 0, 0
    flags = result.evaluation.flags.select(
        "subject_key", "regime_id", "value_central", "value_low", "value_high", "threshold", "deadline",
        "alerts_enabled", "status",
    )
    detailed = transitions.join(flags, on=["subject_key", "regime_id"], how="left")
    insert_frame(conn, FlagEvent.__table__, detailed.select(  # type: ignore[attr-defined]
        "subject_kind", "subject_id", "regime_id", "old_status", "new_status", "old_projected",
        "new_projected", "value_central", "changed_on",
        pl.lit(utcnow()).dt.replace_time_zone("UTC").alias("recorded_at"),
    ))
    # Audit every real change; the first evaluation's many `below` flags are summarised in the
    # run's own audit entry instead of one entry each.
    noteworthy = detailed.filter(
        pl.col("old_status").is_not_null() | pl.col("new_status").is_in(ALERTING_STATUSES)
    )
    audit.record_many(session, [
        {"actor": actor, "action": "flag.transition", "entity": f"flag:{row['subject_kind']}",
         "entity_id": f"{row['subject_id']}:{row['regime_id']}",
         "details": {"old": row["old_status"], "new": row["new_status"],
                     "projected": row["new_projected"], "value_central": row["value_central"]}}
        for row in noteworthy.iter_rows(named=True)
    ])
    alerting = detailed.filter(
        pl.col("alerts_enabled").fill_null(False)
        & pl.col("new_status").is_in(ALERTING_STATUSES)
        & (pl.col("old_status").ne_missing(pl.col("new_status"))
           | pl.col("old_projected").ne_missing(pl.col("new_projected")))
    )
    return transitions.height, _enqueue_flag_alerts(session, alerting, result, settings)


def _enqueue_flag_alerts(session: Session, alerting: pl.DataFrame, result: RegistryResult,
                         settings: Settings) -> int:
    if alerting.height == 0:
        return 0
    from tracker.alerts.outbox import enqueue

    names = result.systems.select("system_key", "provider", "provider_id", "name", "version")
    clusters = result.clusters.select(
        pl.col("cluster_key").alias("subject_key"), pl.col("provider").alias("cluster_provider"),
        pl.col("provider_id").alias("cluster_provider_id"))
    rows = (alerting.join(names, left_on="subject_key", right_on="system_key", how="left")
            .join(clusters, on="subject_key", how="left"))
    sent = 0
    for row in rows.iter_rows(named=True):
        is_system = row["subject_kind"] == "system"
        system_label = (f"{row['name']}@{row['version']}" if row["version"] else row["name"]) if is_system else None
        payload = {
            "provider": row["provider"] if is_system else row["cluster_provider"],
            "system": system_label,
            "cluster_id": None if is_system else row["subject_id"],
            "regime": row["regime_id"], "status": row["new_status"], "projected": row["new_projected"],
            "previous_status": row["old_status"],
            "training_flop": {"central": row["value_central"], "low": row["value_low"],
                              "high": row["value_high"]},
            "threshold": row["threshold"],
            "deadline": row["deadline"].isoformat() if row["deadline"] else None,
            "url": f"{settings.base_url}/systems/{row['subject_id']}" if is_system else f"{settings.base_url}/",
        }
        key = (f"flag:{row['subject_kind']}:{row['subject_id']}:{row['regime_id']}:{row['new_status']}:"
               f"{'projected' if row['new_projected'] else 'current'}:{row['changed_on']}")
        alert = enqueue(session, kind="flag_change", idempotency_key=key, payload=payload,
                        provider_id=row["provider_id"] if is_system else row["cluster_provider_id"],
                        system_id=row["subject_id"] if is_system else None,
                        regime_id=row["regime_id"], settings=settings)
        sent += alert is not None
    return sent


# --- discrepancies -------------------------------------------------------------------------

def _record_discrepancies(session: Session, result: RegistryResult) -> int:
    """A provider's own figure more than 30% from the independent estimate, once per figure."""
    runs = result.run_estimates
    if "discrepancy" not in runs.columns:
        return 0
    found = (
        runs.filter(pl.col("discrepancy").fill_null(False))
        .with_columns(pl.col("discrepancy_ratio").log().abs().alias("_dist"))
        .sort("_dist", descending=True)
        .group_by("system_key")
        .first()
    )
    if found.height == 0:
        return 0
    d = columns(Discrepancy)
    open_rows = session.execute(
        sa.select(d.system_id, d.reported_flop).where(d.is_open, d.source == "independent")
    ).all()
    known = {(int(s), round(float(r), -10) if r else 0.0) for s, r in open_rows}
    added = 0
    for row in found.iter_rows(named=True):
        system_id = int(row["system_key"])
        reported = float(row["reported_flop"])
        if (system_id, round(reported, -10)) in known:
            continue
        ratio = float(row["discrepancy_ratio"])
        session.add(Discrepancy(system_id=system_id, source="independent", reported_flop=reported,
                                other_flop=reported / ratio, ratio=ratio))
        added += 1
    session.flush()
    return added


def _alert_open_discrepancies(session: Session, settings: Settings) -> int:
    from tracker.alerts.outbox import enqueue

    d, s, p = columns(Discrepancy), columns(AISystem), columns(Provider)
    rows = session.execute(
        sa.select(Discrepancy, AISystem, Provider)
        .join(s.id.table, s.id == d.system_id)
        .join(p.id.table, p.id == s.provider_id)
        .where(d.is_open)
    ).all()
    sent = 0
    for disc, system, provider in rows:
        payload = {
            "provider": provider.slug,
            "system": f"{system.name}@{system.version}" if system.version else system.name,
            "regime": None, "status": "discrepancy", "source": disc.source,
            "reported_flop": disc.reported_flop,
            "training_flop": {"central": disc.other_flop, "low": None, "high": None},
            "ratio": disc.ratio, "threshold": None, "deadline": None,
            "url": f"{settings.base_url}/systems/{system.id}",
        }
        alert = enqueue(session, kind="discrepancy", idempotency_key=f"discrepancy:{disc.id}",
                        payload=payload, provider_id=provider.id, system_id=system.id, settings=settings)
        sent += alert is not None
    return sent


def today_utc() -> date:
    return datetime.now(UTC).date()


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)
