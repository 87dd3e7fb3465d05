"""`tracker users add ...`: create accounts, including the first administrator."""

from __future__ import annotations

import sys

import typer

from tracker.auth.passwords import WeakPasswordError
from tracker.auth.users import UserError, create_user
from tracker.cli.errors import fail
from tracker.store.db import session_scope

users_app = typer.Typer(help="Dashboard accounts.", no_args_is_help=True)


@users_app.command("add")
def add(
    username: str = typer.Argument(..., help="login name"),
    role: str = typer.Option(..., "--role", help="regulator | provider | admin"),
    provider: str | None = typer.Option(None, "--provider", help="provider slug (provider accounts)"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the password from the first line of stdin"),
) -> None:
    """Create an account. Without --password-stdin the password is asked for twice, unechoed."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with session_scope() as session:
            user = create_user(session, username=username, role=role, password=password,
                               provider_slug=provider, actor="cli")
            user_id = user.id
    except (UserError, WeakPasswordError) as exc:
        fail(str(exc))
    typer.echo(f"created {role} account {username!r} (id {user_id})")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
