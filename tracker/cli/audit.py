"""`tracker audit verify` and `tracker audit export`."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, date, datetime, time
from enum import StrEnum
from pathlib import Path
from typing import IO

import typer
from sqlmodel import Session

from tracker.cli.errors import fail
from tracker.store import audit
from tracker.store.audit_key import AuditKeyError
from tracker.store.db import get_engine

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
EXPORT_COLUMNS = ("id", "at", "actor", "action", "entity", "entity_id", "details_json", "prev_hash", "hash")


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


@audit_app.command("verify")
def verify(
    heads: list[str] = typer.Option([], "--head", metavar="ID:HASH", show_default=False,
                                    help="an audit head from a receipt (repeatable)"),
    receipts: list[Path] = typer.Option([], "--receipt", metavar="FILE", show_default=False,
                                        help="a receipt as JSON (its audit_head; repeatable)"),
) -> None:
    """Check the chain, its checkpoints (database and file), that every filing, token, account,
    registration event and certificate has its audit entry, and the heads given; exit 1 naming
    each finding."""
    wanted = [_parse_head(h) for h in heads] + [_head_of_receipt(r) for r in receipts]
    try:
        with Session(get_engine()) as session:
            result = audit.verify(session, coverage=True, receipt_heads=wanted)
    except AuditKeyError as exc:
        fail(str(exc))
    for note in result.notes:
        typer.echo(f"note: {note}")
    if not result.ok:
        for problem in result.problems:
            typer.echo(problem, err=True)
        fail(f"audit log not intact: {len(result.problems)} finding(s) ({result.checked} entries checked)")
    head = f"; head {result.head[0]}:{result.head[1]}" if result.head else ""
    held = f"; {len(wanted)} receipt head(s) in the chain" if wanted else ""
    typer.echo(f"audit chain intact: {result.checked} entries, {result.checkpoints_checked} checkpoints{held}{head}")


@audit_app.command("checkpoint")
def checkpoint() -> None:
    """Checkpoint the chain's head now (the scheduler does it daily)."""
    try:
        with Session(get_engine()) as session:
            made = audit.checkpoint_now(session, "manual")
            session.commit()
    except AuditKeyError as exc:
        fail(str(exc))
    if made is None:
        typer.echo("nothing to checkpoint: the log is empty or its head is already checkpointed")
    else:
        typer.echo(f"{made.describe()}: entry {made.last_event_id}, {made.event_count} entries")


def _parse_head(text: str) -> tuple[int, str]:
    entry_id, _, digest = text.partition(":")
    if not (entry_id.isdigit() and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        fail(f"--head {text!r} is not an audit head; expected ID:HASH (the entry id, a colon, 64 hex digits)")
    return int(entry_id), digest


def _head_of_receipt(path: Path) -> tuple[int, str]:
    try:
        head = json.loads(path.read_text(encoding="utf-8")).get("audit_head")
    except (OSError, ValueError, AttributeError) as exc:
        fail(f"--receipt {str(path)!r} cannot be read as a JSON receipt: {exc}")
    if not (isinstance(head, dict) and isinstance(head.get("id"), int) and isinstance(head.get("hash"), str)):
        fail(f"--receipt {str(path)!r} holds no audit_head; expected a receipt with "
             '"audit_head": {"id": ..., "hash": ...}')
    return _parse_head(f"{head['id']}:{head['hash']}")


def _day_start(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        fail(f"{option} {value!r} is not a date; expected YYYY-MM-DD")


@audit_app.command("export")
def export(
    fmt: ExportFormat = typer.Option(ExportFormat.jsonl, "--format", help="csv, or jsonl (one object a line)"),
    since: str = typer.Option(None, "--from", metavar="DATE", help="first day included (YYYY-MM-DD, UTC)"),
    until: str = typer.Option(None, "--to", metavar="DATE", help="first day excluded (YYYY-MM-DD, UTC)"),
    output: Path = typer.Option(None, "--output", "-o", metavar="FILE", help="file to write; default: standard output"),
) -> None:
    """Write the audit entries of a date range as CSV or JSON lines."""
    start, end = _day_start(since, "--from"), _day_start(until, "--to")
    stream: IO[str] = output.open("w", newline="", encoding="utf-8") if output else sys.stdout
    count = 0
    try:
        writer = csv.writer(stream) if fmt is ExportFormat.csv else None
        if writer:
            writer.writerow(EXPORT_COLUMNS)
        with Session(get_engine()) as session:
            for event in audit.iter_events(session, start, end):
                values = [getattr(event, c) for c in EXPORT_COLUMNS]
                values[1] = event.at.isoformat()
                if writer:
                    writer.writerow(values)
                else:
                    stream.write(json.dumps(dict(zip(EXPORT_COLUMNS, values, strict=True))) + "\n")
                count += 1
    finally:
        if output:
            stream.close()
    if output:
        typer.echo(f"wrote {count} audit entries to {output}")


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
