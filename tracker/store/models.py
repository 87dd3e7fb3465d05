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
    # Other providers may build on this system (and read its figures through lineage) only when
    # true: set by its provider (`tracker systems publish`), never by default.
    figures_public: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


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
    # No foreign key: on PostgreSQL the table is partitioned by month (tracker.store.partitions) and
    # cannot be referenced on id alone; the filing writer sets it in the superseding transaction.
    superseded_by_id: int | None = None


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
    # Compute meets the threshold but the regime's other conditions are not all declared held:
    # ``unheld_conditions`` is the JSON list of those not yet held. ``tier``: the regime's grade.
    conditional: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})
    unheld_conditions: str | None = Field(default=None, sa_type=sa.Text())
    tier: str | None = Field(default=None, max_length=64)


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
    """Append-only history of flags. ``kind`` ``transition``: one (subject, regime) pair's status or
    projected state changed (``old_status`` null: a new pair of a subject evaluated before).
    ``first_evaluated``: the subject's first evaluation, one row for all its regimes (``regime_id``
    null, ``new_status`` its highest status then); its flags that day are the current flags' start."""

    __tablename__ = "flag_event"
    id: int | None = Field(default=None, primary_key=True)
    subject_kind: str = Field(default="system", max_length=16)
    subject_id: int = Field(index=True)
    kind: str = Field(default="transition", max_length=24, sa_column_kwargs={"server_default": "transition"})
    regime_id: str | None = Field(default=None, foreign_key="regime.id")
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
    # Finds the entries of one filing, token or user: a receipt's re-issue, the coverage check.
    __table_args__ = (sa.Index("ix_audit_event_entity", "entity", "entity_id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime(), index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=64)
    entity_id: str = Field(max_length=128)
    details_json: str = Field(default="{}", sa_type=sa.Text())
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
    # 1: plain SHA-256 (entries written before the keyed chain); 2: HMAC-SHA256 under the audit key.
    # The database default is 1 so that a row inserted behind audit.record's back is never keyed.
    chain_version: int = Field(default=1, sa_column_kwargs={"server_default": sa.text("1")})


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


class Registration(SQLModel, table=True):
    """One obligation per (system, regime) and its registration: what is due, by when, and where it
    stands (states in ``tracker.registration.states``). Opened by an evaluation, or by a provider's
    voluntary submission."""

    __tablename__ = "registration"
    __table_args__ = (sa.UniqueConstraint("system_id", "regime_id"),)
    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="ai_system.id")
    provider_id: int = Field(foreign_key="provider.id", index=True)
    regime_id: str = Field(foreign_key="regime.id", max_length=80)
    obligation: str = Field(max_length=64)  # the regime's obligation, or "voluntary"
    state: str = Field(max_length=16, index=True)
    voluntary: bool = False
    crossed_on: date | None = None
    deadline: date | None = None
    threshold: float | None = None  # the threshold crossed, as the flag had it
    registration_number: str | None = Field(default=None, max_length=20, unique=True)  # CTR-YYYY-NNNNNN
    registered_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class RegistrationSubmission(SQLModel, table=True):
    """What a provider submitted for a registration. Append-only."""

    __tablename__ = "registration_submission"
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    kind: str = Field(max_length=16)  # notification | contest | voluntary | information
    channel: str = Field(max_length=16)  # cli | api | portal
    submitted_by: str = Field(max_length=200)
    submitted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    compute_flop: float | None = None  # confidential: the figure the provider stands behind
    compute_method: str | None = Field(default=None, max_length=64)
    crossed_on: date | None = None
    contact: str | None = Field(default=None, sa_type=sa.Text())
    contest_text: str | None = Field(default=None, sa_type=sa.Text())
    record_sha256: str = Field(max_length=64)  # canonical JSON of the submission + attachment hashes


class RegistrationAttachment(SQLModel, table=True):
    __tablename__ = "registration_attachment"
    id: int | None = Field(default=None, primary_key=True)
    submission_id: int = Field(foreign_key="registration_submission.id", index=True)
    filename: str = Field(max_length=255)
    media_type: str = Field(max_length=64)
    sha256: str = Field(max_length=64, index=True)
    size_bytes: int = Field(sa_type=sa.BigInteger())
    stored_path: str = Field(max_length=1024)


class RegistrationEvent(SQLModel, table=True):
    """Append-only history of a registration: every transition and every decision, with its reason."""

    __tablename__ = "registration_event"
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    from_state: str | None = Field(default=None, max_length=16)
    to_state: str = Field(max_length=16)
    action: str = Field(max_length=32)
    actor: str = Field(max_length=200)
    reason: str | None = Field(default=None, sa_type=sa.Text())
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class RegistrationSequence(SQLModel, table=True):
    """The last registration number issued per decision year: one atomic upsert per number keeps
    numbers unique and gap-free under concurrent decisions (the row lock serialises them)."""

    __tablename__ = "registration_sequence"
    year: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    last_number: int = 0


class SigningKey(SQLModel, table=True):
    """A published certificate-signing public key. Retired keys stay, so that the certificates they
    signed still verify; the private key never reaches the database."""

    __tablename__ = "signing_key"
    key_id: str = Field(primary_key=True, max_length=32)  # first 16 hex of SHA-256(raw public key)
    public_key: str = Field(sa_type=sa.Text())  # PEM (SubjectPublicKeyInfo)
    algorithm: str = Field(default="Ed25519", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime())


class Certificate(SQLModel, table=True):
    """A signed registration certificate. Never edited except its status: a revoked or superseded
    certificate stays, with the reason and, when superseded, a pointer to its replacement."""

    __tablename__ = "certificate"
    id: int | None = Field(default=None, primary_key=True)
    registration_id: int = Field(foreign_key="registration.id", index=True)
    registration_number: str = Field(max_length=20, index=True)
    key_id: str = Field(foreign_key="signing_key.key_id", max_length=32)
    body_json: str = Field(sa_type=sa.Text())  # the signed bytes: canonical JSON of the body
    signature: str = Field(sa_type=sa.Text())  # base64url, no padding
    issued_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    status: str = Field(default="valid", max_length=16, index=True)  # valid | revoked | superseded
    # Public: why it stopped being valid (withdrawn | rejected | amended | revoked); the reason
    # text beside it is the regulator's and stays off the public revocation list.
    status_category: str | None = Field(default=None, max_length=32)
    status_reason: str | None = Field(default=None, sa_type=sa.Text())
    status_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    superseded_by_id: int | None = Field(default=None, foreign_key="certificate.id")


class WebSession(SQLModel, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored here, so
    a copy of the database cannot be replayed as a session. Revoked or expired rows are refused."""

    __tablename__ = "web_session"
    id: str = Field(primary_key=True, max_length=64)  # hex SHA-256 of the cookie's token
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    expires_at: datetime = Field(sa_type=UTCDateTime())  # absolute: activity never extends it
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    revoked_reason: str | None = Field(default=None, max_length=64)
    user_agent: str | None = Field(default=None, max_length=200)
    ip: str | None = Field(default=None, max_length=64)


class RegimeSetting(SQLModel, table=True):
    """A threshold the regulator sets for a regime whose text publishes none. Append-only: the
    newest row per regime is in force, the older ones are its history."""

    __tablename__ = "regime_setting"
    id: int | None = Field(default=None, primary_key=True)
    regime_id: str = Field(max_length=80, index=True)
    metric: str = Field(max_length=48)
    comparator: str = Field(default="gte", max_length=8)
    threshold: float
    reason: str = Field(sa_type=sa.Text())
    set_by: str = Field(max_length=200)
    set_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())


class SystemCondition(SQLModel, table=True):
    """A condition a provider declares held or not held for a system (kind ``system_conditions``)."""

    __tablename__ = "system_condition"
    __table_args__ = (sa.Index("ix_system_condition_current", "system_id", "condition", "is_current"),)
    id: int | None = Field(default=None, primary_key=True)
    filing_id: int = Field(foreign_key="filing.id", index=True)
    system_id: int = Field(foreign_key="ai_system.id")
    condition: str = Field(max_length=120)
    held: bool
    notes: str | None = Field(default=None, sa_type=sa.Text())
    is_current: bool = Field(default=True)
    superseded_by_id: int | None = Field(default=None, foreign_key="system_condition.id")


class RateBucket(SQLModel, table=True):
    """A token bucket of the API's rate limits (``tracker.filing.ratelimit``): one row per token or
    provider, in the database so that every server process draws from the same bucket."""

    __tablename__ = "rate_bucket"
    key: str = Field(primary_key=True, max_length=96)  # token:<prefix> | provider:<id>
    tokens: float
    updated_at: datetime = Field(sa_type=UTCDateTime())


class AttemptBucket(SQLModel, table=True):
    """A token bucket of sign-in (or password-change) attempts for one account and client address
    (``tracker.auth.attempts``), shared by every server process. The key is a SHA-256, so the
    usernames people mistype (sometimes their password) are not kept here in clear."""

    __tablename__ = "attempt_bucket"
    key: str = Field(primary_key=True, max_length=64)
    tokens: float
    # Indexed: a bucket untouched for a full refill is full, the same as no row, and is swept.
    updated_at: datetime = Field(sa_type=UTCDateTime(), index=True)


class RejectionRepeat(SQLModel, table=True):
    """Identical rejections of one provider (same bytes, same problems) close together: the first
    raises the alert, the repeats only count here (``tracker.filing.service``)."""

    __tablename__ = "rejection_repeat"
    __table_args__ = (sa.Index("ix_rejection_repeat_match", "provider_id", "sha256", "errors_sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(foreign_key="provider.id")
    sha256: str = Field(max_length=64)
    errors_sha256: str = Field(max_length=64)
    first_filing_id: int = Field(foreign_key="filing.id")
    last_filing_id: int = Field(foreign_key="filing.id")
    alert_id: int | None = Field(default=None, foreign_key="alert.id")
    count: int = 1
    first_at: datetime = Field(sa_type=UTCDateTime())
    last_at: datetime = Field(sa_type=UTCDateTime())


class FilingJob(SQLModel, table=True):
    """The work queue of ``tracker worker`` (``tracker.worker``): a filing to make (uploaded bytes
    spooled to a file, or a file in the inbox) or an evaluation to run after filings. A worker holds a
    job under a lease it renews; a job whose lease ran out is claimed again (``claim_token`` tells the
    holders apart), and a filing job is finished in the filing's own transaction."""

    __tablename__ = "filing_job"
    __table_args__ = (
        sa.Index("ix_filing_job_due", "status", "run_after", "id"),
        # One queued evaluation is enough (it evaluates every filing since the last one), and one
        # open job per inbox file: both enqueues are an INSERT .. ON CONFLICT DO NOTHING.
        sa.Index("ux_filing_job_queued_evaluation", "job_type", unique=True,
                 sqlite_where=sa.text("job_type = 'evaluation' AND status = 'queued'"),
                 postgresql_where=sa.text("job_type = 'evaluation' AND status = 'queued'")),
        sa.Index("ux_filing_job_open_inbox_file", "spool_path", unique=True,
                 sqlite_where=sa.text("job_type = 'inbox' AND status IN ('queued', 'running')"),
                 postgresql_where=sa.text("job_type = 'inbox' AND status IN ('queued', 'running')")),
    )
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(max_length=32, unique=True)  # what the API and portal quote (not guessable)
    job_type: str = Field(max_length=16)  # filing | inbox | evaluation
    status: str = Field(default="queued", max_length=16)  # queued | running | done | rejected | failed
    provider_id: int | None = Field(default=None, foreign_key="provider.id", index=True)
    provider_slug: str | None = Field(default=None, max_length=64)
    disclosure_kind: str | None = Field(default=None, max_length=64)  # as the filer gave it (may be empty)
    filename: str | None = Field(default=None, max_length=255)
    channel: str | None = Field(default=None, max_length=16)
    filed_by: str | None = Field(default=None, max_length=200)
    size_bytes: int | None = Field(default=None, sa_type=sa.BigInteger())
    spool_path: str | None = Field(default=None, max_length=1024)  # the spooled upload or the inbox file
    attempts: int = 0
    max_attempts: int = 5
    run_after: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())  # retry backoff
    claim_token: str | None = Field(default=None, max_length=32)
    claimed_by: str | None = Field(default=None, max_length=120)  # host:pid of the holder
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime())
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime())
    accession: str | None = Field(default=None, max_length=32)
    outcome_json: str | None = Field(default=None, sa_type=sa.Text())  # the receipt or rejection issued
    last_error: str | None = Field(default=None, sa_type=sa.Text())


class AuditCheckpoint(SQLModel, table=True):
    """The audit chain's head (last entry, its hash, the number of entries up to it) at a moment,
    MACed with the audit key and chained to the checkpoint before it (``tracker.store.checkpoints``).
    A copy of each goes to a file outside the database, so deleting rows, or checkpoints, shows."""

    __tablename__ = "audit_checkpoint"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime())
    last_event_id: int
    last_hash: str = Field(max_length=64)
    event_count: int = Field(sa_type=sa.BigInteger())
    chain: str = Field(max_length=64)  # the hash of the chain's first entry: which chain this is
    reason: str = Field(max_length=16)  # interval | daily | evaluation | manual
    key_id: str = Field(max_length=16)
    prev_mac: str = Field(max_length=64)
    mac: str = Field(max_length=64, unique=True)


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
