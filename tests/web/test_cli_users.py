"""`tracker users add` creates accounts with argon2 hashes; bad requests fail with a sentence."""

from __future__ import annotations

from datetime import timedelta
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


def test_users_administration_commands_end_sessions_and_are_audited(settings_env: Path) -> None:
    from tracker.auth import sessions
    from tracker.cli.main import app
    from tracker.store.models import AuditEvent, WebSession
    from tracker.store.types import utcnow

    runner = CliRunner()
    with Session(get_engine()) as session:
        factories.provider(session, "acme")
        session.commit()
    for name, role in (("root", "admin"), ("alice", "regulator")):
        done = runner.invoke(app, ["users", "add", name, "--role", role, "--password-stdin"],
                             input=factories.PASSWORD + "\n")
        assert done.exit_code == 0, done.output
    policy = sessions.SessionPolicy(lifetime=timedelta(hours=12), idle=timedelta(hours=1))

    def live_session() -> str:
        with Session(get_engine()) as session:
            alice = session.exec(select(User).where(User.username == "alice")).one()
            token = sessions.start(session, user_id=alice.id or 0, policy=policy, now=utcnow())
            session.commit()
        return token

    def alive(token: str) -> bool:
        with Session(get_engine()) as session:
            return sessions.resolve(session, token, policy=policy, now=utcnow()) is not None

    steps = [(["users", "disable", "alice"], None, "disabled"),
             (["users", "enable", "alice"], None, "enabled"),
             (["users", "set-role", "alice", "--role", "provider", "--provider", "acme"], None, "provider for acme"),
             (["users", "reset-password", "alice", "--password-stdin"], "a fresh long password\n", "new password")]
    for args, stdin, said in steps:
        token = live_session()
        result = runner.invoke(app, args, input=stdin)
        assert result.exit_code == 0 and said in result.output, result.output
        assert not alive(token), args
    with Session(get_engine()) as session:
        actions = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.actor == "cli"))]
        alice = session.exec(select(User).where(User.username == "alice")).one()
        ended = session.exec(select(WebSession).where(WebSession.user_id == alice.id)).all()
    assert actions[-4:] == ["user.disable", "user.enable", "user.set_role", "user.reset_password"]
    assert alice.role == "provider" and not alice.disabled and all(s.revoked_at for s in ended)
    assert verify_password(alice.password_hash, "a fresh long password")

    for args, stdin, said in ((["users", "disable", "nobody"], None, "no account named 'nobody'"),
                              (["users", "disable", "root"], None, "last enabled administrator"),
                              (["users", "set-role", "alice", "--role", "provider"], None, "needs a provider"),
                              (["users", "set-role", "alice", "--role", "king"], None, "unknown role"),
                              (["users", "reset-password", "alice", "--password-stdin"], "short\n", "at least 12")):
        result = runner.invoke(app, args, input=stdin)
        assert result.exit_code != 0, args
        assert said in str(result.exception) + result.output, (args, result.output, result.exception)
