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
from tracker.store.db import get_engine

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
EXPORT_COLUMNS = ("id", "at", "actor", "action", "entity", "entity_id", "details_json", "prev_hash", "hash")


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


@audit_app.command("verify")
def verify() -> None:
    """Check the whole chain; name the first broken entry and exit 1 if any."""
    with Session(get_engine()) as session:
        result = audit.verify(session)
    if not result.ok:
        fail(f"audit chain broken at entry {result.first_broken_id}: {result.reason} "
             f"({result.checked} entries checked)")
    typer.echo(f"audit chain intact: {result.checked} entries")


def _day_start(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        fail(f"{option} {value!r} is not a date; expected YYYY-MM-DD")


@audit_app.command("export")
def export(
    fmt: ExportFormat = typer.Option(ExportFormat.jsonl, "--format", help="csv or jsonl"),
    since: str = typer.Option(None, "--from", help="first day included (YYYY-MM-DD, UTC)"),
    until: str = typer.Option(None, "--to", help="first day excluded (YYYY-MM-DD, UTC)"),
    output: Path = typer.Option(None, "--output", "-o", help="file to write; default standard output"),
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
