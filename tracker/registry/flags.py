"""Flags in the store, their append-only history, the audit entries of transitions and the
alerts they raise (in the same transaction: the outbox)."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session

from tracker.config import Settings
from tracker.registry.compute import RegistryResult
from tracker.registry.estimates import ID_CHUNK, close
from tracker.registry.inputs import CLUSTER_PREFIX, Subset, chunked
from tracker.registry.status import refresh_system_status
from tracker.store import audit
from tracker.store.bulk import insert_frame
from tracker.store.models import Flag, FlagEvent, columns
from tracker.store.types import utcnow

FLAG_FIELDS = ("status", "projected", "value_central", "value_low", "value_high", "threshold",
               "crossed_on", "first_flagged_on", "deadline", "reason", "conditional", "unheld_conditions", "tier")
ALERTING_STATUSES = ("above", "likely_above")
# FlagEvent.kind: one pair's change, or a subject's first evaluation (one row, regime_id null).
TRANSITION, FIRST_EVALUATED = "transition", "first_evaluated"


def subject_columns() -> list[pl.Expr]:
    is_cluster = pl.col("subject_key").str.starts_with(CLUSTER_PREFIX)
    return [
        pl.when(is_cluster).then(pl.lit("cluster")).otherwise(pl.lit("system")).alias("subject_kind"),
        pl.col("subject_key").str.strip_prefix(CLUSTER_PREFIX).cast(pl.Int64).alias("subject_id"),
    ]


def write_flags(session: Session, result: RegistryResult, subset: Subset | None = None, *,
                unassessable: Sequence[str] = ()) -> int:
    """Replace the flags that changed. ``subset`` None: ``result`` covers the whole registry;
    otherwise exactly ``subset``'s systems and clusters, and only their flags are read or replaced.
    Stored flags under ``unassessable`` regimes (whose metric the tracker does not hold: the
    evaluation gives them no rows) are deleted, so the store holds what the evaluation does."""
    conn = session.connection()
    _delete_unassessable(conn, unassessable, subset)
    # Regime ids, reasons, open conditions and tiers arrive as categoricals; the stored ones are read as text.
    new = result.evaluation.flags.with_columns(
        *subject_columns(), pl.col("regime_id", "reason", "unheld_conditions", "tier").cast(pl.String))
    f = columns(Flag)
    query = sa.select(
        f.id, f.subject_kind, f.subject_id, f.regime_id, f.notified_by, *[f[name] for name in FLAG_FIELDS],
    )
    if subset is None:
        rows = list(conn.execute(query).all())
    else:
        rows = [row for kind, ids in (("system", subset.system_ids), ("cluster", subset.cluster_ids))
                for part in chunked(ids)
                for row in conn.execute(query.where(f.subject_kind == kind, f.subject_id.in_(part))).all()]
    schema = {"id": pl.Int64, "subject_kind": pl.String, "subject_id": pl.Int64, "regime_id": pl.String,
              "notified_by": pl.String, "old_status": pl.String, "old_projected": pl.Boolean,
              "old_value_central": pl.Float64, "old_value_low": pl.Float64, "old_value_high": pl.Float64,
              "old_threshold": pl.Float64, "old_crossed_on": pl.Date, "old_first_flagged_on": pl.Date,
              "old_deadline": pl.Date, "old_reason": pl.String, "old_conditional": pl.Boolean,
              "old_unheld_conditions": pl.String, "old_tier": pl.String}
    old = pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")
    merged = new.join(old, on=["subject_kind", "subject_id", "regime_id"], how="left")
    same = pl.all_horizontal(
        [close(pl.col(f), pl.col(f"old_{f}")) if f.startswith(("value", "threshold"))
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
    written = insert_frame(conn, Flag.__table__, inserts)  # type: ignore[attr-defined]
    refresh_system_status(session, None if subset is None else subset.system_ids)
    return written


def _delete_unassessable(conn: Connection, regime_ids: Sequence[str], subset: Subset | None) -> None:
    if not regime_ids:
        return
    f = columns(Flag)
    statement = sa.delete(Flag.__table__).where(f.regime_id.in_(list(regime_ids)))  # type: ignore[attr-defined]
    if subset is None:
        conn.execute(statement)
        return
    for kind, ids in (("system", subset.system_ids), ("cluster", subset.cluster_ids)):
        for part in chunked(ids):
            conn.execute(statement.where(f.subject_kind == kind, f.subject_id.in_(part)))


def write_transitions(session: Session, result: RegistryResult, actor: str,
                       settings: Settings) -> tuple[int, int]:
    """Append the evaluation's history (``FlagEvent``), audit the noteworthy changes and enqueue the
    alerts of crossings; returns (events written, alerts enqueued).

    A subject evaluated for the first time gets one ``first_evaluated`` event, not one transition
    per regime; its crossings are still audited and alerted like any new crossing (previous status
    null), so a provider first filed above a threshold is told the same day."""
    conn = session.connection()
    evaluation = result.evaluation
    now = pl.lit(utcnow()).dt.replace_time_zone("UTC").alias("recorded_at")
    firsts = evaluation.first_evaluated.with_columns(subject_columns())
    insert_frame(conn, FlagEvent.__table__, firsts.select(  # type: ignore[attr-defined]
        "subject_kind", "subject_id", pl.lit(FIRST_EVALUATED).alias("kind"),
        pl.col("status").cast(pl.String).alias("new_status"), pl.lit(False).alias("new_projected"),
        "changed_on", now,
    ))
    transitions = evaluation.transitions.with_columns(subject_columns())
    details = ["value_central", "value_low", "value_high", "threshold", "deadline", "alerts_enabled"]
    detailed = transitions.join(
        evaluation.flags.select("subject_key", "regime_id", *details), on=["subject_key", "regime_id"], how="left"
    )
    insert_frame(conn, FlagEvent.__table__, detailed.select(  # type: ignore[attr-defined]
        "subject_kind", "subject_id", pl.lit(TRANSITION).alias("kind"), "regime_id", "old_status", "new_status",
        "old_projected", "new_projected", "value_central", "changed_on", now,
    ))
    # The crossings of first-evaluated subjects, shaped as the transitions from nothing they are.
    first_crossings = detailed.clear()
    if firsts.height:
        first_crossings = (
            evaluation.flags.filter(pl.col("status").is_in(ALERTING_STATUSES))
            .join(firsts.select("subject_key", "changed_on"), on="subject_key")
            .with_columns(subject_columns())
            .with_columns(old_status=pl.lit(None), old_projected=pl.lit(None), new_status=pl.col("status"),
                          new_projected=pl.col("projected"))
            .select(detailed.columns)
            .cast(detailed.schema)
        )
    # Audit every real change; the many ordinary flags of first evaluations are summarised in the
    # run's own audit entry instead of one entry each.
    noteworthy = pl.concat([
        detailed.filter(pl.col("old_status").is_not_null() | pl.col("new_status").is_in(ALERTING_STATUSES)),
        first_crossings,
    ])
    audit.record_many(session, [
        {"actor": actor, "action": "flag.transition", "entity": f"flag:{row['subject_kind']}",
         "entity_id": f"{row['subject_id']}:{row['regime_id']}",
         "details": {"old": row["old_status"], "new": row["new_status"],
                     "projected": row["new_projected"], "value_central": row["value_central"]}}
        for row in noteworthy.iter_rows(named=True)
    ])
    alerting = noteworthy.filter(
        pl.col("alerts_enabled").fill_null(False)
        & pl.col("new_status").is_in(ALERTING_STATUSES)
        & (pl.col("old_status").ne_missing(pl.col("new_status"))
           | pl.col("old_projected").ne_missing(pl.col("new_projected")))
    )
    return firsts.height + transitions.height, enqueue_flag_alerts(session, alerting, result, settings)


def enqueue_flag_alerts(session: Session, alerting: pl.DataFrame, result: RegistryResult,
                         settings: Settings) -> int:
    if alerting.height == 0:
        return 0
    from tracker.alerts.links import link_base_url
    from tracker.alerts.outbox import AlertRequest, enqueue_many

    base = link_base_url(settings)  # the configured address, else where the dashboard is served
    names = result.systems.select("system_key", "provider", "provider_id", "name", "version")
    clusters = result.clusters.select(
        pl.col("cluster_key").alias("subject_key"), pl.col("provider").alias("cluster_provider"),
        pl.col("provider_id").alias("cluster_provider_id"))
    rows = (alerting.join(names, left_on="subject_key", right_on="system_key", how="left")
            .join(clusters, on="subject_key", how="left"))
    requests = []
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
            "url": f"{base}/systems/{row['subject_id']}" if is_system else f"{base}/",
        }
        key = (f"flag:{row['subject_kind']}:{row['subject_id']}:{row['regime_id']}:{row['new_status']}:"
               f"{'projected' if row['new_projected'] else 'current'}:{row['changed_on']}")
        requests.append(AlertRequest(
            kind="flag_change", idempotency_key=key, payload=payload,
            provider_id=row["provider_id"] if is_system else row["cluster_provider_id"],
            system_id=row["subject_id"] if is_system else None, regime_id=row["regime_id"]))
    return sum(alert_id is not None for alert_id in enqueue_many(session, requests, settings))


