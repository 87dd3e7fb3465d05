"""`tracker users add` creates accounts with argon2 hashes; bad requests fail with a sentence."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from tests.dashboard import factories
from tracker.auth.passwords import verify_password
from tracker.store.db import get_engine
from tracker.store.models import User


def test_users_add_creates_admin_and_provider_accounts(settings_env: Path) -> None:
    from tracker.cli.main import app

    runner = CliRunner()
    first = runner.invoke(app, ["users", "add", "root", "--role", "admin", "--password-stdin"],
                          input=factories.PASSWORD + "\n")
    assert first.exit_code == 0, first.output
    with Session(get_engine()) as session:
        factories.provider(session, "acme")
        session.commit()
    provider = runner.invoke(app, ["users", "add", "alice", "--role", "provider", "--provider", "acme",
                                   "--password-stdin"], input=factories.PASSWORD + "\n")
    assert provider.exit_code == 0, provider.output
    with Session(get_engine()) as session:
        users = {u.username: u for u in session.exec(select(User))}
    assert users["root"].role == "admin" and users["root"].provider_id is None
    assert users["root"].password_hash.startswith("$argon2id$")
    assert verify_password(users["alice"].password_hash, factories.PASSWORD)
    assert not verify_password(users["alice"].password_hash, "not the password")

    for args, stdin in ((["users", "add", "bob", "--role", "provider"], factories.PASSWORD),
                        (["users", "add", "bob", "--role", "regulator"], "short"),
                        (["users", "add", "root", "--role", "admin"], factories.PASSWORD),
                        (["users", "add", "bob", "--role", "king"], factories.PASSWORD)):
        result = runner.invoke(app, [*args, "--password-stdin"], input=stdin + "\n")
        assert result.exit_code != 0, args
