"""Leader election: only one scheduler runs jobs; the others wait as standbys.

PostgreSQL: a session-level advisory lock held on a dedicated connection (outside the pool, so
closing it really ends the session) for as long as the process leads. When the leader dies the
server ends its session and the lock is free at once; server-side TCP keepalives bound the wait
when the leader's host vanishes without closing the socket (about 25 s).

SQLite: an OS file lock (``flock`` via filelock) next to the database file, released by the
kernel when the holding process dies, however it dies.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from tracker.config import RUNTIME_DIR

log = logging.getLogger(__name__)

# One key for "the tracker's scheduler" in this database. The audit chain uses 7_300_251, the
# filing service 7_300_252 (it was this key too, and every filing on PostgreSQL then waited for
# as long as a scheduler led) and the evaluation lock 7_300_254.
ADVISORY_LOCK_KEY = 7_300_253
# Server side: drop a silent client's session (and its lock) after ~10 + 5 * 3 seconds.
_KEEPALIVE_OPTIONS = "-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3"


class LeaderLock(Protocol):
    description: str

    def try_acquire(self) -> bool: ...

    def still_held(self) -> bool: ...

    def release(self) -> None: ...


class PostgresLeaderLock:
    def __init__(self, engine: Engine) -> None:
        self._engine = sa.create_engine(
            engine.url, poolclass=NullPool,
            connect_args={"options": _KEEPALIVE_OPTIONS, "keepalives": 1, "keepalives_idle": 10,
                          "keepalives_interval": 5, "keepalives_count": 3,
                          "application_name": "tracker-scheduler"},
        )
        self._conn: Connection | None = None
        self.description = f"advisory lock {ADVISORY_LOCK_KEY} on {engine.url.database}"

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return True
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"),
                               {"k": ADVISORY_LOCK_KEY}).scalar()
        except BaseException:
            conn.close()
            raise
        if got:
            self._conn = conn
            return True
        conn.close()
        return False

    def still_held(self) -> bool:
        if self._conn is None:
            return False
        try:
            # The lock lives exactly as long as this database connection: ask the server it is still ours.
            held = self._conn.execute(
                sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                        " AND pid = pg_backend_pid() AND objid = :k"),
                {"k": ADVISORY_LOCK_KEY},
            ).scalar()
        except sa.exc.SQLAlchemyError:
            return False
        return bool(held)

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_LOCK_KEY})
            except sa.exc.SQLAlchemyError:
                pass  # the session is gone, and the lock with it
            finally:
                conn.close()
        self._engine.dispose()


class FileLeaderLock:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # thread_local=False: the health check runs on another thread than the acquirer.
        self._lock = FileLock(str(path), thread_local=False)
        self.description = f"file lock {path}"

    def try_acquire(self) -> bool:
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        return True

    def still_held(self) -> bool:
        return self._lock.is_locked

    def release(self) -> None:
        if self._lock.is_locked:
            self._lock.release(force=True)


def lock_for(engine: Engine) -> LeaderLock:
    if engine.dialect.name == "postgresql":
        return PostgresLeaderLock(engine)
    database = engine.url.database
    if database and database != ":memory:":
        return FileLeaderLock(Path(f"{database}.scheduler.lock"))
    return FileLeaderLock(RUNTIME_DIR / "scheduler.lock")


def wait_for_leadership(lock: LeaderLock, stop: threading.Event, poll_seconds: float) -> bool:
    """Block until this process leads (True) or ``stop`` is set (False)."""
    announced = False
    while not stop.is_set():
        try:
            if lock.try_acquire():
                return True
        except sa.exc.DBAPIError as exc:
            log.warning("cannot reach the database to take the leader lock: %s",
                        str(exc).splitlines()[0])
        if not announced:
            log.info("standby: another scheduler holds the %s; polling every %.1fs",
                     lock.description, poll_seconds)
            announced = True
        stop.wait(poll_seconds)
    return False
