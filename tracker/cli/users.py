"""`tracker users add|disable|enable|set-role|reset-password`: accounts, including the first
administrator. Every change is audited (actor ``cli``) and ends the account's sessions."""

from __future__ import annotations

import sys

import typer

from tracker.auth import users as accounts
from tracker.auth.passwords import WeakPasswordError
from tracker.auth.users import UserError, create_user
from tracker.cli.errors import fail
from tracker.store.db import session_scope

users_app = typer.Typer(help="Dashboard accounts.", no_args_is_help=True)


def _password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


@users_app.command("add")
def add(
    username: str = typer.Argument(..., metavar="USERNAME", help="login name"),
    role: str = typer.Option(..., "--role", metavar="ROLE", help="regulator, provider or admin"),
    provider: str | None = typer.Option(None, "--provider", metavar="SLUG", help="provider slug (provider accounts)"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the password from the first line of stdin"),
) -> None:
    """Create an account. Without --password-stdin the password is asked for twice, unechoed."""
    password = _password(password_stdin)
    try:
        with session_scope() as session:
            user = create_user(session, username=username, role=role, password=password,
                               provider_slug=provider, actor="cli")
            user_id = user.id
    except (UserError, WeakPasswordError) as exc:
        fail(str(exc))
    typer.echo(f"created {role} account {username!r} (id {user_id})")


@users_app.command("disable")
def disable(username: str = typer.Argument(..., metavar="USERNAME", help="login name")) -> None:
    """Disable an account: its sessions end at once and its API tokens stop working."""
    try:
        with session_scope() as session:
            accounts.set_disabled(session, username=username, disabled=True, actor="cli")
    except UserError as exc:
        fail(str(exc))
    typer.echo(f"disabled {username!r}; its sessions have ended")


@users_app.command("enable")
def enable(username: str = typer.Argument(..., metavar="USERNAME", help="login name")) -> None:
    """Enable a disabled account again (it signs in afresh)."""
    try:
        with session_scope() as session:
            accounts.set_disabled(session, username=username, disabled=False, actor="cli")
    except UserError as exc:
        fail(str(exc))
    typer.echo(f"enabled {username!r}")


@users_app.command("set-role")
def set_role(
    username: str = typer.Argument(..., metavar="USERNAME", help="login name"),
    role: str = typer.Option(..., "--role", metavar="ROLE", help="regulator, provider or admin"),
    provider: str | None = typer.Option(None, "--provider", metavar="SLUG", help="provider slug (provider accounts)"),
) -> None:
    """Change an account's role; its sessions end, and API tokens it made for another provider are revoked."""
    try:
        with session_scope() as session:
            accounts.set_role(session, username=username, role=role, provider_slug=provider, actor="cli")
    except UserError as exc:
        fail(str(exc))
    typer.echo(f"{username!r} is now {role}" + (f" for {provider}" if provider else "") + "; its sessions have ended")


@users_app.command("reset-password")
def reset_password(
    username: str = typer.Argument(..., metavar="USERNAME", help="login name"),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="read the new password from the first line of stdin"),
) -> None:
    """Set a new password for an account; every session of it ends."""
    password = _password(password_stdin)
    try:
        with session_scope() as session:
            accounts.reset_password(session, username=username, password=password, actor="cli")
    except (UserError, WeakPasswordError) as exc:
        fail(str(exc))
    typer.echo(f"new password set for {username!r}; its sessions have ended")


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
