"""Reads of the dashboard and the public register go to a real streaming replica; writes, sign-in
and a provider's own receipts go to the primary.

The replica (``replica_url``, tests/store/conftest.py) replays the primary's WAL. To tell the two
apart, a test pauses the replay (``pg_wal_replay_pause``): what is written then is on the primary
only, so a read that shows it came from the primary and a read that misses it came from the replica.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from tests.conftest import _truncate_postgres
from tests.dashboard import factories
from tests.dashboard import registration_factories as rf
from tests.reliability.helpers import dash_callback, running_server, sign_in
from tracker.auth.tokens import create_token
from tracker.auth.users import create_user
from tracker.config import Settings
from tracker.store.db import make_engine, read_session, session_scope
from tracker.store.models import Provider
from tracker.web.public import REGISTER_CALLBACK_OUTPUT

# A physical replica replays the whole cluster's WAL: on a server shared with other databases (bulk
# loads, benchmarks) it can trail by much more than the sub-second lag of a quiet one.
REPLAY_WAIT_S = 180.0
GOOD_RUNS = b"system,run_id,reported_flop\nacme-lm,r1,1e24\n"
PASSWORD = "a long replica password 8"


@pytest.fixture
def primary(_postgres_migrated: str, replica_url: str) -> Iterator[Engine]:
    engine = make_engine(_postgres_migrated)
    _truncate_postgres(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def replica(replica_url: str) -> Iterator[Engine]:
    engine = make_engine(replica_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(primary: Engine, replica_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=primary.url.render_as_string(hide_password=False), database_replica_url=replica_url,
                    environment="test", secret_key="s" * 48, inbox_dir=tmp_path / "inbox",
                    archive_dir=tmp_path / "archive", rejected_dir=tmp_path / "rejected", spool_dir=tmp_path / "spool")


def wait_replayed(primary: Engine, replica: Engine) -> None:
    """Until the replica has replayed everything the primary has written so far (bounded)."""
    with primary.connect() as conn:
        lsn = conn.execute(sa.text("SELECT pg_current_wal_lsn()")).scalar_one()
    deadline = time.monotonic() + REPLAY_WAIT_S
    with replica.connect() as conn:
        while not conn.execute(sa.text("SELECT pg_last_wal_replay_lsn() >= CAST(:lsn AS pg_lsn)"),
                               {"lsn": lsn}).scalar_one():
            assert time.monotonic() < deadline, f"the replica did not replay up to {lsn} in {REPLAY_WAIT_S} s"
            time.sleep(0.02)
            conn.rollback()


@contextmanager
def replay_paused(primary: Engine, replica: Engine) -> Iterator[None]:
    """The replica stops applying WAL (it still receives it) until the block ends."""
    wait_replayed(primary, replica)
    with replica.connect() as conn:
        conn.execute(sa.text("SELECT pg_wal_replay_pause()"))
        deadline = time.monotonic() + REPLAY_WAIT_S
        while conn.execute(sa.text("SELECT pg_get_wal_replay_pause_state()")).scalar_one() != "paused":
            assert time.monotonic() < deadline, "the replica did not pause its replay"
            time.sleep(0.02)
    try:
        yield
    finally:
        with replica.connect() as conn:
            conn.execute(sa.text("SELECT pg_wal_replay_resume()"))
        wait_replayed(primary, replica)


def served_by(session: Session) -> tuple[bool, int]:
    """(in recovery, server port) of the connection behind ``session``."""
    row = session.execute(sa.text("SELECT pg_is_in_recovery(), inet_server_port()")).one()
    return bool(row[0]), int(row[1])


def test_read_path_goes_to_the_replica_and_writes_to_the_primary(settings: Settings, replica_url: str) -> None:
    from tracker.web import auth
    from tracker.web.server import create_server

    replica_port = make_url(replica_url).port
    with read_session(settings) as session:
        assert served_by(session) == (True, replica_port)
    app = create_server(settings)
    with app.test_request_context("/"):
        with auth.read_session() as session:
            assert served_by(session) == (True, replica_port)
        with auth.db_session() as session:
            assert served_by(session)[0] is False
    # Without a replica the read path falls back to the primary, still read-only there.
    alone = Settings(database_url=settings.database_url)
    with read_session(alone) as session:
        assert served_by(session)[0] is False
        with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
            session.execute(sa.text("INSERT INTO provider (slug, name, created_at) VALUES ('x', 'X', now())"))


def test_a_write_on_the_primary_reaches_the_replica(primary: Engine, replica: Engine, settings: Settings) -> None:
    with session_scope(primary) as session:
        session.add(Provider(slug="fresh-provider", name="Fresh"))
    wait_replayed(primary, replica)
    with read_session(settings) as session:
        assert served_by(session)[0] is True
        names = session.execute(sa.text("SELECT name FROM provider WHERE slug = 'fresh-provider'")).scalars().all()
    assert names == ["Fresh"]


def test_a_providers_receipt_is_read_from_the_primary(primary: Engine, replica: Engine, settings: Settings) -> None:
    from tracker.web.server import create_server

    client = create_server(settings).test_client()
    with replay_paused(primary, replica):
        with session_scope(primary) as session:
            provider = Provider(slug="acme", name="Acme AI")
            session.add(provider)
            session.flush()
            token, _ = create_token(session, user_id=None, provider_id=provider.id or 0, name="ci")
        headers = {"Authorization": f"Bearer {token}"}
        created = client.post("/api/v1/disclosures", headers=headers,
                              data={"kind": "training_runs", "file": (io.BytesIO(GOOD_RUNS), "runs.csv")})
        assert created.status_code == 201, created.get_data(as_text=True)
        accession = created.get_json()["accession"]
        receipt = client.get(f"/api/v1/disclosures/{accession}", headers=headers)
        assert receipt.status_code == 200 and receipt.get_json()["status"] == "accepted"
        with replica.connect() as conn:  # the replica has not seen the filing: the receipt came from the primary
            on_replica = conn.execute(sa.text("SELECT count(*) FROM filing WHERE accession = :a"),
                                      {"a": accession}).scalar_one()
        assert on_replica == 0


REGISTER_INPUTS = [{"id": "register-search", "property": "value", "value": ""},
                   {"id": "register-page", "property": "value", "value": 1}]
GRID_OUTPUT = "..systems-grid.getRowsResponse...sys-count.children.."
GRID_INPUTS = [{"id": "systems-grid", "property": "getRowsRequest",
                "value": {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}}]


def _shown(http: requests.Session, base: str, output: str, inputs: list[dict[str, object]]) -> str:
    response = dash_callback(http, base, output, inputs)
    assert response.status_code == 200, response.text[:500]
    return json.dumps(response.json())


def test_tracker_serve_renders_pages_from_the_replica(primary: Engine, replica: Engine, settings: Settings,
                                                      replica_url: str, tmp_path: Path) -> None:
    with running_server(settings.database_url, tmp_path / "runtime", cli=True,
                        TRACKER_DATABASE_REPLICA_URL=replica_url) as server, requests.Session() as http:
        with replay_paused(primary, replica):
            with Session(primary) as session:
                world = factories.seed_world(session, today=date.today(), users=False)
                rf.seed_registrations(session, world.ids)
                create_user(session, username="reg", role="regulator", password=PASSWORD, actor="test")
                session.commit()
            # Sign-in reads the account and writes the session on the primary: it works meanwhile.
            signed = sign_in(http, server.url, "reg", PASSWORD)
            assert signed.status_code in (302, 303), signed.text[:300]
            # On the primary only: the pages do not show it yet, so they were read from the replica.
            assert rf.ACME_NUMBER not in _shown(http, server.url, REGISTER_CALLBACK_OUTPUT, REGISTER_INPUTS)
            assert rf.ACME_NUMBER not in http.get(f"{server.url}/api/v1/register", timeout=30).text
            assert '"rowCount": 0' in _shown(http, server.url, GRID_OUTPUT, GRID_INPUTS)
        # Replayed: now the replica has it, and so do the pages.
        assert rf.ACME_NUMBER in _shown(http, server.url, REGISTER_CALLBACK_OUTPUT, REGISTER_INPUTS)
        assert rf.ACME_NUMBER in http.get(f"{server.url}/api/v1/register", timeout=30).text
        grid = _shown(http, server.url, GRID_OUTPUT, GRID_INPUTS)
        assert '"rowCount": 0' not in grid and "acme-lm" in grid
