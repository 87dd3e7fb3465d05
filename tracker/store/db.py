"""Engine and sessions for SQLite (embedded default) and PostgreSQL (production).

Writes, and reads that must see the caller's own fresh write, use ``get_engine``/``session_scope``
(the primary). Read-only views may use ``get_read_engine``/``read_session``: the streaming replica
named by ``TRACKER_DATABASE_REPLICA_URL`` when one is set, else the primary. A replica lags the
primary by the replication delay (docs/deployment.md, "Read replica"), so what a caller has just
written may be missing there for a moment; it also refuses writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from tracker.config import Settings, get_settings

SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the web server read while the scheduler writes; foreign keys are off by default
    # in SQLite and the busy timeout turns short lock waits into waits instead of errors.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # PostgreSQL's JIT compiles each dashboard query for longer than the query then runs
    # (measured: 160-730 ms of planning on 100k-system queries), so it stays off for this workload.
    return sa.create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20,
                            connect_args={"options": "-c jit=off"})


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    return make_engine(url)


def get_engine(url: str | None = None) -> Engine:
    return _engine_for(url or get_settings().database_url)


def _driver_url(url: str) -> str:
    # The same spellings Settings accepts for the primary (psycopg 3 is the driver we ship).
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def get_read_engine(settings: Settings | None = None) -> Engine:
    """The engine for read-only views: the replica when ``database_replica_url`` is set, else the primary."""
    conf = settings or get_settings()
    replica = conf.database_replica_url
    return _engine_for(_driver_url(replica)) if replica else _engine_for(conf.database_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any exception."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_session(settings: Settings | None = None) -> Iterator[Session]:
    """A read-only transaction on the read engine (replica or primary); never commits anything."""
    engine = get_read_engine(settings)
    with Session(engine, expire_on_commit=False) as session:
        try:
            if is_postgres(engine):
                # The same refusal on the primary as on a standby: a write on the read path fails
                # in every deployment, not only in those with a replica.
                session.execute(sa.text("SET TRANSACTION READ ONLY"))
            yield session
        finally:
            session.rollback()


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
