"""Filing commands: ``ingest``, ``schema``, ``import-epoch``, ``match`` and ``api-token``.

The CLI is an operator channel: it files for any provider slug and creates unknown ones.
"""

from __future__ import annotations

import getpass
import json
import sys
from enum import StrEnum
from pathlib import Path

import typer
from sqlmodel import select

from tracker.cli.errors import EXIT_REJECTED, fail
from tracker.filing.kinds import KINDS, get_kind, json_schema
from tracker.filing.receipts import Receipt, Rejection
from tracker.filing.service import FilingError, file_disclosure
from tracker.units import format_datetime

token_app = typer.Typer(help="Per-provider API tokens.", no_args_is_help=True)


class Format(StrEnum):
    json = "json"
    table = "table"


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _print_outcome(outcome: Receipt | Rejection, fmt: str) -> None:
    if isinstance(outcome, Rejection):
        for problem in outcome.errors:
            print(str(problem), file=sys.stderr)
        if outcome.accession:
            print(f"rejected: {outcome.accession} ({len(outcome.errors)} problems)", file=sys.stderr)
        if outcome.audit_head:
            print(f"audit_head {outcome.audit_head['id']}:{outcome.audit_head['hash']}", file=sys.stderr)
        raise typer.Exit(EXIT_REJECTED)
    if fmt == "json":
        typer.echo(json.dumps(outcome.to_dict(), indent=2))
        return
    label = {"valid": "valid (dry run, nothing filed)", "accepted": "accepted"}[outcome.status]
    if outcome.duplicate:
        label = "already filed (same bytes): original receipt"
    rows = [("status", label), ("accession", outcome.accession or "-"), ("provider", outcome.provider),
            ("kind", outcome.kind), ("sha256", outcome.sha256), ("records", str(outcome.records)),
            ("superseded", str(outcome.superseded)),
            ("filed_at", format_datetime(outcome.filed_at))]
    if outcome.audit_head:  # the provider's evidence: `tracker audit verify --head ID:HASH` checks it later
        rows.append(("audit_head", f"{outcome.audit_head['id']}:{outcome.audit_head['hash']}"))
    if outcome.superseded_by:  # re-filed bytes of a filing amended since: it is not current
        rows.append(("superseded_by", ", ".join(outcome.superseded_by)))
    for key, value in rows:
        typer.echo(f"{key:<11} {value}")
    if outcome.note:
        typer.echo(f"note: {outcome.note}", err=True)


def ingest(
    file: Path = typer.Argument(..., metavar="FILE", help="CSV, JSON, Parquet or XLSX disclosure"),
    provider: str = typer.Option(..., "--provider", metavar="SLUG", help="provider slug (created when new)"),
    kind: str | None = typer.Option(None, "--kind", metavar="KIND",
                                    help=f"one of {', '.join(KINDS)}; default: from the file"),
    dry_run: bool = typer.Option(False, "--dry-run", help="validate only; store nothing"),
    fmt: Format = typer.Option(Format.table, "--format", help="output: a receipt to read, or JSON for scripts"),
) -> None:
    """File a disclosure and print its receipt (exit 2 with the problems when rejected)."""
    from tracker.store.db import get_engine

    if not file.is_file():
        fail(f"no such file: {file}")
    try:
        outcome = file_disclosure(get_engine(), content=file, filename=file.name, kind=kind,
                                  provider_slug=provider, filed_by=_actor(), channel="cli", dry_run=dry_run)
    except FilingError as exc:
        fail(str(exc))
    if isinstance(outcome, Receipt) and outcome.status == "accepted" and not outcome.duplicate:
        from tracker.config import get_settings
        from tracker.worker.queue import enqueue_evaluation

        enqueue_evaluation(get_engine(), get_settings())  # a worker evaluates it and sends its alerts
    _print_outcome(outcome, fmt)


def schema(kind: str = typer.Argument(..., metavar="KIND", help=f"one of {', '.join(KINDS)}")) -> None:
    """Print the JSON Schema of a disclosure kind."""
    spec = get_kind(kind)
    if spec is None:
        fail(f"unknown kind {kind!r}; expected one of {', '.join(KINDS)}")
    typer.echo(json.dumps(json_schema(spec), indent=2))


def import_epoch_command(
    csv_path: Path = typer.Argument(..., metavar="FILE", help="Epoch AI 'AI Models' CSV"),
    source: str | None = typer.Option(None, "--source", metavar="LABEL",
                                      help="source label; default: epoch:<file stem>"),
) -> None:
    """Import Epoch AI's models table as a public snapshot (same file twice: nothing new)."""
    from tracker.filing.public import import_epoch
    from tracker.store.db import get_engine

    if not csv_path.is_file():
        fail(f"no such file: {csv_path}")
    try:
        result = import_epoch(get_engine(), csv_path, _actor(), source=source)
    except ValueError as exc:
        fail(str(exc))
    state = "imported" if result.created else "unchanged (already imported)"
    typer.echo(f"{state}: snapshot {result.snapshot_id} of {result.source}, {result.row_count} models, "
               f"+{result.added} ~{result.changed} -{result.removed}, {result.discrepancies} new discrepancies")


def match(
    system: str = typer.Argument(..., metavar="SYSTEM", help="filed system name"),
    public_name: str = typer.Argument(..., metavar="PUBLIC_NAME", help="the model's name in the public table"),
    provider: str = typer.Option(..., "--provider", metavar="SLUG", help="provider slug"),
    version: str = typer.Option("", "--version", metavar="VERSION", help="system version; default: unversioned",
                                show_default=False),
) -> None:
    """Map a filed system to a public record for the discrepancy check."""
    from tracker.filing.public import add_match
    from tracker.store.db import get_engine, session_scope

    try:
        with session_scope(get_engine()) as session:
            add_match(session, provider_slug=provider, system=system, version=version, public_name=public_name,
                      actor=_actor())
    except LookupError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(f"matched {provider}/{system}{'@' + version if version else ''} -> {public_name!r}")


@token_app.command("create")
def token_create(
    provider: str = typer.Option(..., "--provider", metavar="SLUG", help="provider slug"),
    name: str = typer.Option("api", "--name", metavar="LABEL", help="label for listings"),
) -> None:
    """Create an API token; the token is printed once."""
    from tracker.auth.tokens import create_token
    from tracker.store.db import get_engine, session_scope
    from tracker.store.models import Provider

    with session_scope(get_engine()) as session:
        found = session.exec(select(Provider).where(Provider.slug == provider)).first()
        if found is None or found.id is None:
            fail(f"unknown provider {provider!r}")
        plaintext, token = create_token(session, user_id=None, provider_id=found.id, name=name, actor=_actor())
    typer.echo(plaintext)
    typer.echo(f"token id {token.id}, prefix {token.token_prefix}: store it now, it is not shown again",
               err=True)


@token_app.command("revoke")
def token_revoke(token_id: int = typer.Argument(..., metavar="ID", help="token id")) -> None:
    """Revoke an API token (operator: any provider's)."""
    from tracker.auth.scope import Scope
    from tracker.auth.tokens import revoke_token
    from tracker.store.db import get_engine, session_scope

    try:
        with session_scope(get_engine()) as session:
            revoke_token(session, token_id, scope=Scope(actor=_actor(), role="admin"))
    except LookupError as exc:
        fail(str(exc).strip("'\""))
    typer.echo(f"token {token_id} revoked")


def register(app: typer.Typer) -> None:
    app.command("ingest")(ingest)
    app.command("schema")(schema)
    app.command("import-epoch")(import_epoch_command)
    app.command("match")(match)
    app.add_typer(token_app, name="api-token")
