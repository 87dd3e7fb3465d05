"""`tracker register` (a provider's submission) and `tracker registrations` (list, decide, withdraw).

The CLI is an operator channel, like ``tracker ingest``: it submits for the provider it names and
decides as the regulator named by ``--by``. Rejected input exits 2 with one line per problem on
stderr (``field: what is wrong; expected ...``); any other failure exits 1.
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NoReturn

import typer
from sqlmodel import Session

from tracker.cli.errors import EXIT_REJECTED, fail
from tracker.registration.states import STATES
from tracker.units import format_date, format_datetime

registrations_app = typer.Typer(help="Registrations: list, decide, withdraw.", invoke_without_command=True)
LIST_KEYS = ("id", "provider", "system", "version", "regime", "state", "registration_number", "deadline",
             "obligation", "voluntary", "overdue", "updated_at")
CONTEST_MAX_BYTES = 1024 * 1024


class Format(StrEnum):
    json = "json"
    table = "table"


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date | datetime) else value


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {key: _jsonable(row.get(key)) for key in LIST_KEYS}


def _rejected(problems: list[Any]) -> NoReturn:
    for problem in problems:
        print(str(problem), file=sys.stderr)
    raise typer.Exit(EXIT_REJECTED)


@contextmanager
def _answered() -> Iterator[None]:
    """The registration service's refusals as the CLI's exit codes: 2 for input the command was given
    (rejected fields, a registration that is not the provider's or not there), 1 for a conflict."""
    from tracker.registration.errors import RegistrationConflict, RegistrationNotFound, RegistrationRejected

    try:
        yield
    except RegistrationRejected as exc:
        _rejected(exc.problems)
    except RegistrationNotFound as exc:
        fail(str(exc), EXIT_REJECTED)
    except RegistrationConflict as exc:
        fail(str(exc))


def _print(rows: list[dict[str, Any]], fmt: Format, title: str) -> None:
    if fmt is Format.json:
        typer.echo(json.dumps({"registrations": [_public(r) for r in rows]}, indent=2))
        return
    from tracker.cli.tables import Column, print_table, regime_names
    from tracker.store.db import get_engine

    with Session(get_engine()) as session:
        names = regime_names(session, {r["regime"] for r in rows})
    table = []
    for r in rows:
        system = f"{r['system']}@{r['version']}" if r.get("version") else r["system"]
        table.append([str(r["id"]), f"{r['provider']} / {system}", names.get(r["regime"], r["regime"]),
                      r["state"].replace("_", " ") + (" (overdue)" if r["overdue"] else ""),
                      r.get("registration_number") or "—", format_date(r.get("deadline"))])
    print_table(title, [Column("ID", figure=True, right=True), Column("Provider / system"), Column("Regime"),
                        Column("State"), Column("Number", figure=True), Column("Deadline", figure=True)], table)


def _readable(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, date | datetime):
        return format_datetime(value)
    return str(value)


def _read_text(path: Path, what: str) -> str:
    if not path.is_file():
        fail(f"no such file: {path}", EXIT_REJECTED)
    content = path.read_bytes()
    if len(content) > CONTEST_MAX_BYTES:
        fail(f"{what} {path.name}: {len(content)} bytes; expected at most {CONTEST_MAX_BYTES}", EXIT_REJECTED)
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        fail(f"{what} {path.name}: not UTF-8 text; expected a UTF-8 text file", EXIT_REJECTED)


def register_command(
    system: str = typer.Argument(..., metavar="SYSTEM", help="the system's name, as filed"),
    regime: str = typer.Option(..., "--regime", metavar="REGIME", help="regime id (data/regimes.yaml)"),
    provider: str = typer.Option(..., "--provider", metavar="SLUG", help="provider slug"),
    version: str = typer.Option("", "--version", metavar="VERSION", help="system version; default: unversioned",
                                show_default=False),
    contest: Path | None = typer.Option(None, "--contest", metavar="FILE",
                                        help="UTF-8 text file: arguments contesting designation"),
    fmt: Format = typer.Option(Format.table, "--format", help="output: a table to read, or JSON for scripts"),
    flop: float | None = typer.Option(None, "--flop", metavar="FLOP",
                                      help="the training compute you stand behind, e.g. 3.8e25"),
    method: str | None = typer.Option(None, "--method", help="how that figure was computed"),
    crossed_on: str | None = typer.Option(None, "--crossed-on", metavar="DATE",
                                          help="day the threshold was crossed (YYYY-MM-DD)"),
    contact: str | None = typer.Option(None, "--contact", help="who the regulator should contact"),
    attach: list[Path] = typer.Option([], "--attach", metavar="FILE", help="PDF or UTF-8 text file (repeatable)",
                                      show_default=False),
    voluntary: bool = typer.Option(False, "--voluntary", help="register although no obligation is open"),
) -> None:
    """Submit a registration (notification, contest, or voluntary); prints the registration."""
    from tracker.filing.problems import Problem
    from tracker.registration.submit import submit_registration
    from tracker.registration.validate import Attachment
    from tracker.store.db import get_engine

    crossed: date | None = None
    if crossed_on:
        try:
            crossed = date.fromisoformat(crossed_on)
        except ValueError:
            _rejected([Problem(None, "crossed_on", f"is {crossed_on[:40]!r}; expected an ISO date such as 2024-07-01")])
    contest_text = _read_text(contest, "contest file") if contest is not None else None
    files = []
    for path in attach:
        if not path.is_file():
            fail(f"no such file: {path}", EXIT_REJECTED)
        files.append(Attachment(path.name, path.read_bytes()))
    with _answered():
        row = submit_registration(get_engine(), provider=provider, system=system, version=version, regime=regime,
                                  compute_flop=flop, compute_method=method, crossed_on=crossed, contact=contact,
                                  contest_text=contest_text, attachments=files, voluntary=voluntary,
                                  channel="cli", submitted_by=_actor())
    if fmt is Format.json:
        typer.echo(json.dumps(_public(row), indent=2))
    else:
        for key in LIST_KEYS:
            typer.echo(f"{key:<20} {_readable(row.get(key))}")


@registrations_app.callback()
def registrations(
    ctx: typer.Context,
    state: str | None = typer.Option(None, "--state", metavar="STATE",
                                     help="only this state: " + ", ".join(STATES)),
    fmt: Format = typer.Option(Format.table, "--format", help="output: a table to read, or JSON for scripts"),
) -> None:
    """Registrations with their state, number and deadline (most recently changed first)."""
    if ctx.invoked_subcommand is not None:
        return
    from tracker.auth.scope import Scope
    from tracker.store.db import get_engine
    from tracker.store.queries.registrations import list_registrations

    if state is not None and state not in STATES:
        fail(f"unknown state {state!r}; expected one of {', '.join(STATES)}", EXIT_REJECTED)
    with Session(get_engine()) as session:
        rows = list_registrations(session, Scope(actor=_actor(), role="regulator"), state)
    _print(rows, fmt, "Registrations")


@registrations_app.command("decide")
def decide_command(
    registration_id: int = typer.Argument(..., metavar="ID", help="the registration's id"),
    decision: str = typer.Option(..., "--decision", metavar="DECISION",
                                 help="register, request_info, accept_contest or reject"),
    reason: str = typer.Option(..., "--reason", help="the written reason (kept and audited)"),
    by: str = typer.Option(..., "--by", metavar="NAME", help="who decides"),
    fmt: Format = typer.Option(Format.table, "--format", help="output: a table to read, or JSON for scripts"),
) -> None:
    """A regulator's decision on a submitted or contested registration."""
    from tracker.registration.decide import decide
    from tracker.store.db import get_engine, session_scope

    with _answered(), session_scope(get_engine()) as session:
        row = decide(session, registration_id, decision, reason, by)
    _print([row], fmt, "Decided")


@registrations_app.command("withdraw")
def withdraw_command(
    registration_id: int = typer.Argument(..., metavar="ID", help="the registration's id"),
    provider: str = typer.Option(..., "--provider", metavar="SLUG",
                                 help="the provider withdrawing its own registration"),
    reason: str | None = typer.Option(None, "--reason", help="why (kept and audited)"),
    fmt: Format = typer.Option(Format.table, "--format", help="output: a table to read, or JSON for scripts"),
) -> None:
    """The provider withdraws its registration (a registered one loses its certificate)."""
    from tracker.registration.withdraw import withdraw_registration
    from tracker.store.db import get_engine

    with _answered():
        row = withdraw_registration(get_engine(), registration_id, provider=provider, actor=_actor(), reason=reason)
    _print([row], fmt, "Withdrawn")


def register(app: typer.Typer) -> None:
    app.command("register")(register_command)
    app.add_typer(registrations_app, name="registrations")
