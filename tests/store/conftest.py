"""One seeded world (tests/dashboard/factories.py) for the query-layer tests, on each backend; and a
streaming read replica of the PostgreSQL test database (``replica_url``)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from tests.conftest import IN_CI
from tests.dashboard import factories
from tests.dashboard.figure_factories import Planted, plant
from tests.store.seed import TODAY
from tracker.auth.scope import Scope


@pytest.fixture
def world(engine: Engine) -> factories.World:
    with Session(engine) as session:
        w = factories.seed_world(session, today=TODAY, users=False)
        session.commit()
    return w


@pytest.fixture
def planted(engine: Engine, world: factories.World) -> Planted:
    """The world plus planned-only, aged-usage and ratio-flag systems (tests/dashboard/figure_factories.py)."""
    with Session(engine) as session:
        found = plant(session, world)
        session.commit()
    return found


def acme_scope(world: factories.World) -> Scope:
    """Signed in as the provider acme."""
    return Scope(actor="acme-user", role="provider", provider_id=world.ids["acme"])


# --- read replica (tests/store/test_replica.py) ---
REPLICA_ENV = "TRACKER_TEST_POSTGRES_REPLICA_URL"
REPLICA_SCRIPT = Path(__file__).with_name("replica.sh")


def _free_port(start: int = 5433) -> int:
    for port in range(start, start + 50):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return port
    raise RuntimeError(f"no free port for a replica from {start} to {start + 49}")


def _no_replica(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI=true but there is no read replica: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def replica_url(_postgres_migrated: str) -> Iterator[str]:
    """A streaming replica of the test primary, with the same database: ``TRACKER_TEST_POSTGRES_REPLICA_URL``
    when set; otherwise, for a local primary, one built with tests/store/replica.sh (pg_basebackup)
    on a free port, stopped and deleted at the end of the session."""
    given = os.environ.get(REPLICA_ENV)
    if given:
        yield given.replace("postgresql://", "postgresql+psycopg://", 1) if given.startswith("postgresql://") \
            else given
        return
    primary = make_url(_postgres_migrated)
    if primary.host not in ("127.0.0.1", "localhost"):
        _no_replica(f"{REPLICA_ENV} is not set and the primary at {primary.host} is not local")
    if shutil.which("pg_basebackup") is None:
        _no_replica(f"{REPLICA_ENV} is not set and pg_basebackup is not installed")
    port = _free_port()
    # Not under pytest's temporary folder: the server runs as the postgres OS user, who must reach it.
    data = Path(tempfile.mkdtemp(prefix="tracker-replica."))
    built = subprocess.run(["bash", str(REPLICA_SCRIPT), "start", str(primary.port or 5432), str(port), str(data)],
                           capture_output=True, text=True, timeout=1200, check=False)
    try:
        if built.returncode != 0:
            _no_replica(f"building a replica failed: {built.stderr.strip()[-600:]}")
        yield primary.set(port=port).render_as_string(hide_password=False)
    finally:
        subprocess.run(["bash", str(REPLICA_SCRIPT), "stop", str(data)], capture_output=True, timeout=120,
                       check=False)
