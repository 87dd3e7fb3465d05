"""Every table of the registry, in one module so the schema reads as a whole.

Conventions: timestamps are aware UTC (``UTCDateTime``); compute is in FLOP (``*_flop``) and
stored as double precision; filings and the audit log are append-only; a superseded record is
kept with ``is_current = False`` and a pointer to what replaced it, never deleted.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from tracker.store.types import UTCDateTime, utcnow


class Provider(SQLModel, table=True):
    __tablename__ = "provider"
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class AISystem(SQLModel, table=True):
    __tablename__ = "ai_system"
    __table_args__ = (sa.UniqueConstraint("provider_id", "name", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    name: str = Field(max_length=200, index=True)
    version: str = Field(default="", max_length=64)
    base_system_id: int | None = Field(default=None, foreign_key="ai_system.id", index=True)
    modality: str | None = Field(default=None, max_length=64)
    publication_date: date | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Filing(SQLModel, table=True):
    """One filed document, accepted or rejected. Immutable once written."""

    __tablename__ = "filing"
    id: int | None = Field(default=None, primary_key=True)
    accession: str = Field(max_length=32, unique=True, index=True)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    kind: str = Field(max_length=32)
    status: str = Field(max_length=16, index=True)  # accepted | rejected
    sha256: str = Field(max_length=64, index=True)
    filename: str = Field(max_length=255)
    file_format: str = Field(max_length=16)
    size_bytes: int = Field(sa_type=sa.BigInteger())
    channel: str = Field(max_length=16)  # cli | inbox | api | portal
    filed_by: str = Field(max_length=200)
    filed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), index=True)
    record_count: int = 0
    superseded_count: int = 0
    errors_json: str | None = Field(default=None, sa_type=sa.Text())
    stored_path: str | None = Field(default=None, max_length=1024)


class TrainingRun(SQLModel, table=True):
    __tablename__ = "training_run"
    __table_args__ = (sa.Index("ix_training_run_current", "provider_id", "run_id", "is_current"),)
    id: int | None = Field(default=None, primary_key=True)
    filing_id: int = Field(foreign_key="filing.id", index=True)
    provider_id: int = Field(foreign_key="provider.id")
    system_id: int = Field(foreign_key="ai_system.id", index=True)
    run_id: str = Field(max_length=200)
    stage: str = Field(default="pretraining", max_length=32)
    base_system_id: int | None = Field(default=None, foreign_key="ai_system.id")
    status: str = Field(default="completed", max_length=16)
    accelerator: str | None = Field(default=None, max_length=128)
    accelerator_count: float | None = None
    training_hours: float | None = None
    chip_hours: float | None = None
    start_date: date | None = None
    end_date: date | None = None
    precision: str | None = Field(default=None, max_length=8)
    utilization: float | None = None
    parameters: float | None = None
    active_parameters: float | None = None
    training_tokens: float | None = None
    reported_flop: float | None = None
    notes: str | None = Field(default=None, sa_type=sa.Text())
    is_current: bool = Field(default=True)
    superseded_by_id: int | None = Field(default=None, foreign_key="training_run.id")


class InferenceUsage(SQLModel, table=True):
    __tablename__ = "inference_usage"
    __table_args__ = (
        sa.Index("ix_inference_usage_current", "system_id", "period_start", "period_end", "is_current"),
    )
    id: int | None = Field(default=None, primary_key=True)
    filing_id: int = Field(foreign_key="filing.id", index=True)
    system_id: int = Field(foreign_key="ai_system.id")
    period_start: date
    period_end: date
    input_tokens: float | None = None
    output_tokens: float | None = None
    requests: float | None = None
    mean_context_tokens: float | None = None
    accelerator: str | None = Field(default=None, max_length=128)
    accelerator_hours: float | None = None
    utilization: float | None = None
    is_current: bool = Field(default=True)
    superseded_by_id: int | None = Field(default=None, foreign_key="inference_usage.id")


class ComputeCluster(SQLModel, table=True):
    __tablename__ = "compute_cluster"
    __table_args__ = (sa.Index("ix_compute_cluster_current", "provider_id", "cluster_id", "is_current"),)
    id: int | None = Field(default=None, primary_key=True)
    filing_id: int = Field(foreign_key="filing.id", index=True)
    provider_id: int = Field(foreign_key="provider.id")
    cluster_id: str = Field(max_length=200)
    site: str | None = Field(default=None, max_length=200)
    accelerator: str = Field(max_length=128)
    accelerator_count: float
    interconnect_gbps: float | None = None
    operational_from: date | None = None
    is_current: bool = Field(default=True)
    superseded_by_id: int | None = Field(default=None, foreign_key="compute_cluster.id")


class Accelerator(SQLModel, table=True):
    """The catalog as loaded from data/accelerators.csv (dense peaks, FLOP/s)."""

    __tablename__ = "accelerator"
    name: str = Field(primary_key=True, max_length=128)
    vendor: str = Field(max_length=64)
    year: int | None = None
    fp64_flop_per_s: float | None = None
    fp32_flop_per_s: float | None = None
    tf32_flop_per_s: float | None = None
    bf16_flop_per_s: float | None = None
    fp16_flop_per_s: float | None = None
    fp8_flop_per_s: float | None = None
    fp4_flop_per_s: float | None = None
    int8_ops_per_s: float | None = None
    memory_gb: float | None = None
    tdp_w: float | None = None
    aliases: str | None = Field(default=None, sa_type=sa.Text())
    source: str = Field(sa_type=sa.Text())


class Estimate(SQLModel, table=True):
    """An estimate of one system and kind. New values append; ``is_current`` marks the newest."""

    __tablename__ = "estimate"
    __table_args__ = (sa.Index("ix_estimate_current", "system_id", "kind", "is_current"),)
    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="ai_system.id")
    kind: str = Field(max_length=32)  # training | modification | projected | inference_30d | inference_period
    period_start: date | None = None  # inference_period rows only: the filed usage period
    period_end: date | None = None
    central_flop: float | None = None
    low_flop: float | None = None
    high_flop: float | None = None
    methods: str = Field(default="", max_length=64)
    confidence: str | None = Field(default=None, max_length=16)
    inputs_json: str | None = Field(default=None, sa_type=sa.Text())
    methodology_version: str = Field(max_length=32)
    computed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    is_current: bool = Field(default=True)


class Regime(SQLModel, table=True):
    __tablename__ = "regime"
    id: str = Field(primary_key=True, max_length=80)
    jurisdiction: str = Field(max_length=32)
    instrument: str = Field(sa_type=sa.Text())
    metric: str = Field(max_length=48)
    comparator: str = Field(max_length=8)
    threshold: float | None = None
    state: str = Field(max_length=32)
    obligation: str | None = Field(default=None, max_length=64)
    addressee: str | None = Field(default=None, sa_type=sa.Text())
    deadline: str | None = Field(default=None, max_length=32)
    deadline_calendar: str = Field(default="calendar", max_length=16)
    definition_json: str = Field(sa_type=sa.Text())
    custom: bool = False
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Flag(SQLModel, table=True):
    """Current status of one subject (system or cluster) under one regime."""

    __tablename__ = "flag"
    __table_args__ = (sa.UniqueConstraint("subject_kind", "subject_id", "regime_id"),)
    id: int | None = Field(default=None, primary_key=True)
    subject_kind: str = Field(default="system", max_length=16)
    subject_id: int = Field(index=True)
    regime_id: str = Field(foreign_key="regime.id", index=True)
    status: str = Field(max_length=16, index=True)
    projected: bool = False
    value_central: float | None = None
    value_low: float | None = None
    value_high: float | None = None
    threshold: float | None = None
    crossed_on: date | None = None
    first_flagged_on: date | None = None
    deadline: date | None = None
    notified_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    notified_by: str | None = Field(default=None, max_length=200)
    reason: str | None = Field(default=None, max_length=255)
    evaluated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class SystemStatus(SQLModel, table=True):
    """One row per evaluated system: what the registry's views sort, filter and count by, so a page
    of 100,000 systems is an index scan plus LIMIT instead of aggregating a million flags and joining
    wide estimate rows. Rebuilt from the stored flags and current estimates by
    ``tracker.registry.status.refresh_system_status`` for each system an evaluation writes; a system
    without a row has no flag and no estimate yet (filed, not evaluated)."""

    __tablename__ = "system_status"
    system_id: int = Field(primary_key=True, foreign_key="ai_system.id")
    provider_id: int = Field(foreign_key="provider.id", index=True)  # the system's, for the scope
    # Highest flag status over all regimes: 0 unknown, 1 below, 2 likely_below, 3 likely_above,
    # 4 above; None when the system has no flag.
    status_rank: int | None = None
    projected: bool = False  # some crossing (likely_above or above) comes from planned compute
    # The current ``training`` estimate (None: none), and the current ``inference_30d`` central.
    training_central_flop: float | None = None
    training_low_flop: float | None = None
    training_high_flop: float | None = None
    training_methods: str | None = Field(default=None, max_length=64)
    training_confidence: str | None = Field(default=None, max_length=16)
    inference_30d_central_flop: float | None = None
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class SystemCrossing(SQLModel, table=True):
    """One row per system and regime the system is above or likely above: the crossing flags,
    narrow, for the overview's counts and per-regime plot without reading the wide flag table.
    Kept with ``system_status`` by the same refresh."""

    __tablename__ = "system_crossing"
    system_id: int = Field(primary_key=True, foreign_key="ai_system.id")
    regime_id: str = Field(primary_key=True, foreign_key="regime.id", max_length=80)
    provider_id: int = Field(foreign_key="provider.id", index=True)
    status_rank: int  # 3 likely_above, 4 above
    projected: bool = False
    deadline: date | None = None
    notified: bool = False  # the flag's notified_at is set
    training_central_flop: float | None = None  # the system's, as in system_status


class FlagEvent(SQLModel, table=True):
    """Append-only history of flag transitions."""

    __tablename__ = "flag_event"
    id: int | None = Field(default=None, primary_key=True)
    subject_kind: str = Field(default="system", max_length=16)
    subject_id: int = Field(index=True)
    regime_id: str = Field(foreign_key="regime.id")
    old_status: str | None = Field(default=None, max_length=16)
    new_status: str = Field(max_length=16)
    old_projected: bool | None = None
    new_projected: bool = False
    value_central: float | None = None
    changed_on: date
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class Discrepancy(SQLModel, table=True):
    __tablename__ = "discrepancy"
    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="ai_system.id", index=True)
    source: str = Field(max_length=32)  # independent | public
    reported_flop: float
    other_flop: float
    ratio: float
    detected_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    is_open: bool = True


class Alert(SQLModel, table=True):
    __tablename__ = "alert"
    id: int | None = Field(default=None, primary_key=True)
    idempotency_key: str = Field(max_length=128, unique=True)
    kind: str = Field(max_length=32, index=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    system_id: int | None = Field(default=None, foreign_key="ai_system.id")
    regime_id: str | None = Field(default=None, max_length=80)
    payload_json: str = Field(sa_type=sa.Text())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), index=True)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    acknowledged_by: str | None = Field(default=None, max_length=200)


class AlertDelivery(SQLModel, table=True):
    """The outbox: one row per alert and sink, written in the alert's transaction."""

    __tablename__ = "alert_delivery"
    __table_args__ = (
        sa.UniqueConstraint("alert_id", "sink"),
        sa.Index("ix_alert_delivery_due", "status", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alert.id", index=True)
    sink: str = Field(max_length=300)  # e.g. webhook:<url>, email:<addr>, log:<path>
    status: str = Field(default="pending", max_length=16)  # pending | delivered | dead
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    last_error: str | None = Field(default=None, sa_type=sa.Text())
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class Subscription(SQLModel, table=True):
    __tablename__ = "subscription"
    id: int | None = Field(default=None, primary_key=True)
    sink: str = Field(max_length=300)
    scope_kind: str = Field(default="all", max_length=16)  # all | regime | provider | system
    scope_value: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class AuditEvent(SQLModel, table=True):
    """Append-only, hash-chained: each entry's hash covers its content and the previous hash."""

    __tablename__ = "audit_event"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=64)
    entity_id: str = Field(max_length=128)
    details_json: str = Field(default="{}", sa_type=sa.Text())
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)


class User(SQLModel, table=True):
    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=120, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16)  # regulator | provider | admin
    provider_id: int | None = Field(default=None, foreign_key="provider.id")
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    provider_id: int | None = Field(default=None, foreign_key="provider.id")
    name: str = Field(max_length=120)
    token_prefix: str = Field(max_length=16)
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class PublicSnapshot(SQLModel, table=True):
    __tablename__ = "public_snapshot"
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    sha256: str = Field(max_length=64, index=True)
    imported_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    row_count: int = 0
    added: int = 0
    changed: int = 0
    removed: int = 0
    diff_json: str = Field(default="{}", sa_type=sa.Text())


class PublicRecord(SQLModel, table=True):
    """A model as a public source (Epoch AI) describes it; the newest snapshot's rows are current."""

    __tablename__ = "public_record"
    __table_args__ = (sa.Index("ix_public_record_current", "source", "name_key", "is_current"),)
    id: int | None = Field(default=None, primary_key=True)
    snapshot_id: int = Field(foreign_key="public_snapshot.id", index=True)
    source: str = Field(max_length=64)
    name: str = Field(max_length=300)
    name_key: str = Field(max_length=300)
    organization: str | None = Field(default=None, sa_type=sa.Text())
    publication_date: date | None = None
    training_flop: float | None = None
    confidence: str | None = Field(default=None, max_length=32)
    parameters: float | None = None
    row_hash: str = Field(max_length=64)
    is_current: bool = True


class SystemMatch(SQLModel, table=True):
    """Explicit mapping of a filed system to a public record name, for the hard cases."""

    __tablename__ = "system_match"
    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="ai_system.id", unique=True)
    public_name_key: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


def columns(model: type[SQLModel]) -> Any:
    """The table's column collection, for SQLAlchemy Core queries (typed loosely on purpose:
    SQLModel annotates attributes with Python types, which Core's typing does not accept)."""
    return model.__table__.c  # type: ignore[attr-defined]


# Summary indexes that let the views read a page in its sort order and stop after it: the id
# breaks ties because the views order by it last, and DESC NULLS LAST is how the views sort
# (SQLite refuses NULLS LAST in an index, so migration 0004 writes plain DESC there: the same
# order on SQLite, where NULLs are the smallest values).
_status, _crossing = columns(SystemStatus), columns(SystemCrossing)
sa.Index("ix_system_status_training", _status.training_central_flop.desc().nulls_last(), _status.system_id)
sa.Index("ix_system_status_inference", _status.inference_30d_central_flop.desc().nulls_last(), _status.system_id)
sa.Index("ix_system_status_rank", _status.status_rank.desc().nulls_last(), _status.system_id)
# The overview's "every system at or near a threshold", largest first (status_rank >= likely_above).
sa.Index("ix_system_status_crossing", _status.training_central_flop.desc().nulls_last(), _status.system_id,
         postgresql_where=_status.status_rank >= sa.literal_column("3"),
         sqlite_where=_status.status_rank >= sa.literal_column("3"))
sa.Index("ix_system_crossing_regime", _crossing.regime_id, _crossing.training_central_flop.desc().nulls_last(),
         _crossing.system_id)
# The grid's name filter is lower(name) LIKE '%text%', which no btree serves; a trigram index
# does (PostgreSQL's pg_trgm, created by migration 0004). SQLite scans, as before.
sa.Index("ix_ai_system_name_trgm", sa.func.lower(columns(AISystem).name).label("name_lower"),
         postgresql_using="gin", postgresql_ops={"name_lower": "gin_trgm_ops"}).ddl_if(dialect="postgresql")
