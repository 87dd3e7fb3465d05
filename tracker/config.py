"""One settings object for every process (CLI, scheduler, web server).

Values come from the environment (prefix ``TRACKER_``) and from a ``.env`` file in the working
directory. Paths default to folders under the project's ``data/`` directory so that a fresh
checkout runs without configuration.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = PROJECT_ROOT / "data"
RUNTIME_DIR = DATA_DIR / "runtime"
DEVELOPMENT_SECRET = "dev-only-secret-change-me"  # noqa: S105 - a marker, refused in production


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TRACKER_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    environment: str = Field("development", description="development | production | test")
    database_url: str = Field(
        f"sqlite:///{DATA_DIR / 'tracker.db'}", description="SQLAlchemy URL of the database"
    )
    inbox_dir: Path = Field(RUNTIME_DIR / "inbox", description="drop folder: <inbox>/<provider>/<kind>/")
    archive_dir: Path = Field(RUNTIME_DIR / "archive", description="accepted inbox files")
    rejected_dir: Path = Field(RUNTIME_DIR / "rejected", description="rejected inbox files")
    secret_key: str = Field(DEVELOPMENT_SECRET, description="signs sessions and CSRF tokens")
    base_url: str = Field("http://127.0.0.1:8050", description="public URL used in alert links")
    max_upload_bytes: int = Field(50 * 1024 * 1024, description="upload cap on the server")
    alert_webhook_url: str | None = Field(None, description="webhook sink for alerts")
    alert_webhook_secret: str | None = Field(None, description="HMAC key for webhook signatures")
    alert_log_path: Path | None = Field(None, description="append alerts as JSON lines here")
    smtp_host: str | None = Field(None, description="SMTP server for e-mail alerts")
    smtp_port: int = Field(25, description="SMTP port")
    smtp_from: str = Field("tracker@localhost", description="sender of alert e-mail")
    alert_email_to: str | None = Field(None, description="comma-separated recipients of all alerts")
    inbox_poll_seconds: int = Field(60, description="inbox poll interval of the scheduler")
    dispatch_seconds: int = Field(30, description="alert dispatch interval of the scheduler")
    public_data_path: Path | None = Field(None, description="Epoch AI models CSV refreshed daily")
    regimes_extra_path: Path | None = Field(None, description="custom regimes YAML added to the shipped ones")
    login_attempts_per_minute: int = Field(10, description="failed logins allowed per user and IP")
    token_filings_per_minute: float = Field(20.0, description="API filings per token per minute (refill)")
    token_filing_burst: int = Field(10, description="API filings a token may make at once")
    provider_filings_per_minute: float = Field(60.0, description="API and portal filings per provider per minute")
    provider_filing_burst: int = Field(20, description="API and portal filings a provider may make at once")
    rejection_repeat_window_s: int = Field(3600, description="identical rejections within this share one alert")
    max_concurrent_parses: int = Field(2, description="uploads parsed at once per server process; more get 503")
    server_threads: int = Field(8, description="waitress worker threads")
    registration_attachment_max_bytes: int = Field(5 * 1024 * 1024,
                                                   description="cap on each file attached to a registration")
    audit_key: str | None = Field(None, description="HMAC key of the audit chain (kept out of the database)")
    audit_key_path: Path | None = Field(None, description="file holding the audit chain's HMAC key")
    audit_checkpoint_path: Path = Field(RUNTIME_DIR / "audit-checkpoints.jsonl",
                                        description="append-only copy of every audit checkpoint, outside the database")
    audit_checkpoint_every: int = Field(1000, ge=1, description="audit entries between two checkpoints")
    signing_key_path: Path | None = Field(None, description="Ed25519 certificate-signing key, PEM PKCS8 file")
    signing_key: str | None = Field(None, description="the signing key itself: PEM, or base64 of the 32-byte seed")
    issuer: str = Field("Compute Threshold Tracker", description="issuer named in registration certificates")
    session_lifetime_hours: float = Field(12.0, gt=0, description="absolute lifetime of a signed-in session")
    session_idle_minutes: float = Field(60.0, gt=0, description="a session unused this long is ended")
    alert_log_dir: Path = Field(RUNTIME_DIR / "alert-logs", description="the only folder log: sinks may write in")
    trusted_proxy_count: int = Field(0, ge=0, le=5,
                                     description="reverse proxies in front whose X-Forwarded-* headers are trusted")
    # The filing work queue (tracker.worker, docs/scheduler.md).
    spool_dir: Path = Field(RUNTIME_DIR / "spool", description="queued uploads, until a worker files them")
    # The size above which an upload needs a parse slot (tracker.filing.admission.LIGHT_BYTES).
    queue_upload_above_bytes: int = Field(256 * 1024, ge=0,
                                          description="API and portal uploads above this go to the work queue (202)")
    worker_lease_seconds: float = Field(60.0, gt=0, description="a job whose worker is silent this long is retried")
    worker_poll_seconds: float = Field(1.0, gt=0, description="how often an idle worker looks for jobs (SQLite)")
    worker_max_attempts: int = Field(5, ge=1, description="attempts before a job that keeps failing is given up")
    evaluation_expected_within_s: int = Field(10, ge=1,
                                              description="what receipts promise: estimates within this many s")
    worker_test_pause_s: float = Field(0.0, ge=0,
                                       description="tests only: pause inside each filing job (environment=test)")
    served_address_path: Path = Field(RUNTIME_DIR / "served-address.json",
                                      description="where the server records its address for alert links "
                                                  "when base_url is not set (tracker.alerts.links)")
    # PostgreSQL read replica and history partitions (docs/deployment.md, tracker.store.partitions).
    database_replica_url: str | None = Field(None, description="read-only replica for dashboard and register "
                                                               "reads (PostgreSQL streaming standby); unset: primary")
    history_retention_months: int | None = Field(None, ge=1, description="months of flag and usage history kept "
                                                 "in the hot tables; older ones move to *_archive (unset: all)")

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        # Accept the URLs people paste from other tools; psycopg 3 is the driver we ship.
        if value.startswith("postgres://"):
            value = "postgresql://" + value[len("postgres://") :]
        if value.startswith("postgresql://"):
            value = "postgresql+psycopg://" + value[len("postgresql://") :]
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError("TRACKER_SECRET_KEY must be set to a real secret in production")
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
