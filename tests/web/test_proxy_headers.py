"""HSTS over https, and X-Forwarded-* believed only from the number of proxies the operator states."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.dashboard import factories
from tests.web.conftest import Site, sign_in

HSTS = "Strict-Transport-Security"


@pytest.fixture
def make_site(engine: Engine, db_url: str) -> Iterator[object]:
    from dashboards.components import cache
    from tracker.config import Settings
    from tracker.web.server import create_server

    with Session(engine) as session:
        world = factories.seed_world(session)
        session.commit()

    def build(**overrides: object) -> Site:
        cache.clear()
        settings = Settings(database_url=db_url, environment="test", secret_key="t" * 40,
                            login_attempts_per_minute=2, **overrides)  # type: ignore[arg-type]
        return Site(create_server(settings), world, engine)

    yield build
    cache.clear()


def test_hsts_only_when_served_over_https(make_site: object) -> None:
    plain = make_site()  # type: ignore[operator]
    assert HSTS not in plain.client().get("/login").headers
    assert plain.client().get("/login", base_url="https://localhost").headers[HSTS].startswith("max-age=31536000")
    # TLS ended at a proxy: the configured https base URL says so.
    behind_tls = make_site(base_url="https://tracker.example")  # type: ignore[operator]
    for path in ("/login", "/api/v1/nope", "/healthz"):
        assert "max-age=31536000" in behind_tls.client().get(path).headers[HSTS], path


def test_forwarded_headers_are_ignored_unless_proxies_are_configured(make_site: object) -> None:
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    direct = make_site()  # type: ignore[operator]
    assert HSTS not in direct.client().get("/login", headers=forged).headers
    # The sign-in limit counts the real peer: a forged X-Forwarded-For does not buy fresh attempts.
    client = direct.client()
    for n in range(2):
        refused = sign_in(client, "reg", "wrong password!!")
        assert refused.status_code == 401
        client.environ_base["HTTP_X_FORWARDED_FOR"] = f"198.51.100.{n}"
    assert sign_in(client, "reg", factories.PASSWORD).status_code == 429

    proxied = make_site(trusted_proxy_count=1)  # type: ignore[operator]
    assert "max-age" in proxied.client().get("/login", headers=forged).headers[HSTS]
    # Behind one proxy, each client address the proxy reports is limited on its own.
    client = proxied.client()
    client.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.1"
    for _ in range(2):
        assert sign_in(client, "reg", "wrong password!!").status_code == 401
    assert sign_in(client, "reg", factories.PASSWORD).status_code == 429
    other = proxied.client()
    other.environ_base["HTTP_X_FORWARDED_FOR"] = "198.51.100.2"
    assert sign_in(other, "reg", factories.PASSWORD).status_code == 302
