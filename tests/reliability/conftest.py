"""Fixtures of the reliability suite: an SQLite database for server subprocesses, the Flask app on the
settings of ``settings_env`` and a signed-in test client."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.reliability.helpers import PASSWORD, callback_body

ORIGIN = "http://localhost"


@pytest.fixture
def sqlite_url(tmp_path: Path, _sqlite_template: Path) -> str:
    """A migrated SQLite file for a server subprocess (the backend does not matter to the test)."""
    path = tmp_path / "server.db"
    shutil.copyfile(_sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def app(settings_env: Path) -> Iterator[Any]:
    """The production Flask app (API and dashboard) on the test database of ``settings_env``."""
    from dashboards.components import cache
    from tracker.config import get_settings
    from tracker.web.server import create_server

    cache.clear()
    yield create_server(get_settings())
    cache.clear()


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    page = client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, page
    return client.post("/login", data={"username": username, "password": password, "csrf_token": match.group(1),
                                       "next": "/"}, headers={"Origin": ORIGIN})


def callback(client: FlaskClient, output: str, inputs: list[Any], state: list[Any] | None = None,
             changed: str | None = None) -> Any:
    """POST one Dash callback through the Flask test client (see ``helpers.callback_body``)."""
    return client.post("/_dash-update-component", json=callback_body(output, inputs, state, changed),
                       headers={"Origin": ORIGIN})
