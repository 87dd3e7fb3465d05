"""Shared fixtures: one per resource.

``db_url``/``engine`` run every database test against SQLite and again against PostgreSQL when
``TRACKER_TEST_POSTGRES_URL`` is set. With ``CI=true`` a missing PostgreSQL fails the run
instead of skipping, so a green CI always means both backends were exercised.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlmodel import SQLModel

import tracker.store.models  # noqa: F401
from tracker.store.db import make_engine
from tracker.store.migrate import upgrade

POSTGRES_ENV = "TRACKER_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED = Path(__file__).resolve().parents[2] / "shared"
EPOCH_DIR = SHARED / "data" / "epoch"
# Every test database's audit checkpoints go to one throwaway file, not the project's data/runtime.
os.environ.setdefault("TRACKER_AUDIT_CHECKPOINT_PATH",
                      str(Path(tempfile.mkdtemp(prefix="tracker-audit-")) / "audit-checkpoints.jsonl"))


def postgres_url() -> str | None:
    url = os.environ.get(POSTGRES_ENV)
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def require_postgres() -> str:
    url = postgres_url()
    if url is None:
        if IN_CI:
            pytest.fail(f"CI=true but {POSTGRES_ENV} is not set: PostgreSQL tests cannot run")
        pytest.skip(f"{POSTGRES_ENV} not set")
    return url


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_migrated() -> str:
    url = require_postgres()
    engine = make_engine(url)
    with engine.begin() as conn:
        # A clean slate for this test run: the CI database may hold a previous run's tables.
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(url)
    return url


def _truncate_postgres(engine: Engine) -> None:
    names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "tracker.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
    else:
        url: str = request.getfixturevalue("_postgres_migrated")
        engine = make_engine(url)
        _truncate_postgres(engine)
        engine.dispose()
        yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings_env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the process's settings at the test database and a private runtime folder."""
    from tracker.config import get_settings
    from tracker.store.db import _engine_for

    runtime = tmp_path / "runtime"
    monkeypatch.setenv("TRACKER_DATABASE_URL", db_url)
    monkeypatch.setenv("TRACKER_INBOX_DIR", str(runtime / "inbox"))
    monkeypatch.setenv("TRACKER_ARCHIVE_DIR", str(runtime / "archive"))
    monkeypatch.setenv("TRACKER_REJECTED_DIR", str(runtime / "rejected"))
    monkeypatch.setenv("TRACKER_ENVIRONMENT", "test")
    get_settings.cache_clear()
    _engine_for.cache_clear()
    yield runtime  # type: ignore[misc]
    get_settings.cache_clear()
    _engine_for.cache_clear()


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A brand-new PostgreSQL database (for migration tests), dropped afterwards."""
    base = require_postgres()
    name = f"tracker_t_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield make_url(base).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
