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
