"""One seeded world (tests/dashboard/factories.py) for the query-layer tests, on each backend."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.dashboard import factories
from tests.store.seed import TODAY


@pytest.fixture
def world(engine: Engine) -> factories.World:
    with Session(engine) as session:
        w = factories.seed_world(session, today=TODAY, users=False)
        session.commit()
    return w
