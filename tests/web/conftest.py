"""A Flask test client on the real server (API + dashboard), seeded, on each backend."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.dashboard import factories

ORIGIN = "http://localhost"


@dataclass
class Site:
    app: Any
    world: factories.World
    engine: Engine

    def client(self) -> FlaskClient:
        return self.app.test_client()  # type: ignore[no-any-return]

    def login(self, username: str, password: str = factories.PASSWORD) -> FlaskClient:
        client = self.client()
        response = sign_in(client, username, password)
        assert response.status_code == 302, response.text
        return client


@pytest.fixture
def site(engine: Engine, db_url: str) -> Iterator[Site]:
    from dashboards.components import cache
    from tracker.config import Settings
    from tracker.web.server import create_server

    with Session(engine) as session:
        world = factories.seed_world(session)
        session.commit()
    cache.clear()
    settings = Settings(database_url=db_url, environment="test", secret_key="t" * 40, login_attempts_per_minute=3)
    yield Site(create_server(settings), world, engine)
    cache.clear()


def csrf_of(client: FlaskClient) -> str:
    page = client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str, *, next_path: str = "/") -> Any:
    token = csrf_of(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token,
                                       "next": next_path}, headers={"Origin": ORIGIN})


Value = tuple[Any, str, Any]


def callback(client: FlaskClient, output: str, inputs: list[Value | list[Value]],
             state: list[Value] | None = None, *, triggered: Value | None = None) -> Any:
    """POST one Dash callback as the browser would (any values we like: that is the point)."""
    outputs = [o for o in output.strip(".").split("...")] if output.startswith("..") else [output]
    parsed = []
    for o in outputs:
        ident, _, prop = o.rpartition(".")
        parsed.append({"id": json.loads(ident) if ident.startswith("{") else ident, "property": prop})

    def items(values: list[Any]) -> list[Any]:
        # A pattern-matching (ALL) input is a list of components: sent as a nested list.
        return [items(v) if isinstance(v, list) else {"id": v[0], "property": v[1], "value": v[2]}
                for v in values]

    first = inputs[0]
    trigger = triggered or (first[0] if isinstance(first, list) else first)
    trigger_id = json.dumps(trigger[0], separators=(",", ":"), sort_keys=True) \
        if isinstance(trigger[0], dict) else trigger[0]
    body = {"output": output, "outputs": parsed if output.startswith("..") else parsed[0],
            "inputs": items(inputs), "state": items(state or []),
            "changedPropIds": [f"{trigger_id}.{trigger[1]}"]}
    return client.post("/_dash-update-component", json=body, headers={"Origin": ORIGIN})
