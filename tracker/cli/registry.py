"""`tracker evaluate` and `tracker systems`: the registry's estimates and flags."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from sqlmodel import Session

from tracker.auth.scope import SYSTEM_SCOPE, Scope
from tracker.cli.errors import EXIT_REJECTED, fail
from tracker.registry.pipeline import run_evaluation, today_utc
from tracker.registry.report import report_from_db
from tracker.store.db import get_engine


class Format(StrEnum):
    json = "json"
    table = "table"
    csv = "csv"


class EstimateFormat(StrEnum):
    """The calculator prints JSON or a table (contract §2): no CSV."""

    json = "json"
    table = "table"


def estimate(
    file: Path = typer.Argument(..., metavar="FILE", help="a disclosure: CSV, JSON, Parquet or XLSX"),
    kind: str = typer.Option(None, "--kind", metavar="KIND",
                             help="training_runs, inference_usage or clusters; default: from the file"),
    fmt: EstimateFormat = typer.Option(EstimateFormat.json, "--format", help="output: the contract's JSON or a table"),
    as_of: str = typer.Option(None, "--as-of", metavar="DATE",
                              help="evaluate the regimes in force on this day (YYYY-MM-DD); default: today (UTC)"),
) -> None:
    """The calculator: estimate what FILE describes without touching the database."""
    from tracker.catalog.accelerators import load_catalog
    from tracker.filing.parse import parse_disclosure
    from tracker.filing.problems import DisclosureRejected
    from tracker.registry.calculator import estimate_file
    from tracker.registry.pipeline import default_regimes

    if not file.is_file():
        fail(f"{file} does not exist or is not a file")
    catalog = load_catalog()
    try:
        parsed = parse_disclosure(file.read_bytes(), file.name, kind, catalog)
    except DisclosureRejected as exc:
        for problem in exc.problems:
            typer.echo(str(problem), err=True)
        raise typer.Exit(EXIT_REJECTED) from None
    day = date.fromisoformat(as_of) if as_of else today_utc()
    report = estimate_file(parsed.kind.name, parsed.records, catalog, default_regimes(), day)
    out = Format(fmt.value)
    if report.get("clusters") and out is Format.table:
        out = Format.json  # clusters have no table layout; JSON says everything
    emit_report(report, out)
    for note in report.get("notes", []):
        typer.echo(f"note: {note}", err=True)


def evaluate(
    as_of: str = typer.Option(None, "--as-of", metavar="DATE",
                              help="evaluation day (YYYY-MM-DD); default: today (UTC)"),
) -> None:
    """Re-estimate every system and evaluate every regime now, then print a one-line summary."""
    day = date.fromisoformat(as_of) if as_of else today_utc()
    summary = run_evaluation(get_engine(), day, actor="cli")
    typer.echo(summary.line())


def systems(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.table, "--format", help="output: a table to read, or JSON or CSV for scripts"),
    provider: str = typer.Option(None, "--provider", metavar="SLUG",
                                 help="show only this provider's systems, as that provider sees them"),
) -> None:
    """The registry with estimates and flags."""
    if ctx.invoked_subcommand is not None:
        return
    with Session(get_engine()) as session:
        report = report_from_db(session, _provider_scope(session, provider) if provider else SYSTEM_SCOPE)
        names = _regime_names(session, report) if fmt is Format.table else {}
    emit_report(report, fmt, names)


def _provider_scope(session: Session, slug: str) -> Scope:
    from sqlmodel import select

    from tracker.store.models import Provider

    found = session.exec(select(Provider.id).where(Provider.slug == slug)).first()
    if found is None:
        fail(f"unknown provider {slug!r}")
    return Scope(actor=f"cli:{slug}", role="provider", provider_id=found)


def publish(
    reference: str = typer.Argument(..., metavar="NAME[@VERSION]", help="one of the provider's systems"),
    provider: str = typer.Option(..., "--provider", metavar="SLUG", help="the provider that filed the system"),
    withdraw: bool = typer.Option(False, "--withdraw", help="make the system's figures confidential again"),
) -> None:
    """Make a system's figures public, so other providers may file fine-tunes of it (docs/filing.md)."""
    from tracker.filing.systems import SystemNotFoundError, publish_figures

    with Session(get_engine()) as session, session.begin():
        try:
            system = publish_figures(session, provider_slug=provider, reference=reference, actor="cli",
                                     public=not withdraw)
        except SystemNotFoundError as exc:
            fail(str(exc))
        label = system.name + (f"@{system.version}" if system.version else "")
    state = "confidential" if withdraw else "public"
    typer.echo(f"{provider}/{label}: figures {state}")


def emit_report(report: dict[str, Any], fmt: Format, regime_names: dict[str, str] | None = None) -> None:
    if fmt is Format.json:
        typer.echo(json.dumps(report, indent=2))
    elif fmt is Format.csv:
        _write_csv(report)
    else:
        _print_table(report, regime_names if regime_names is not None else _regime_names(None, report))


def _regime_names(session: Session | None, report: dict[str, Any]) -> dict[str, str]:
    from tracker.cli.tables import regime_names

    return regime_names(session, {f["regime"] for entry in report["systems"] for f in entry["flags"]})


def _flags_text(entry: dict[str, Any]) -> str:
    return "; ".join(
        f"{f['regime']}: {f['status']}{' (projected)' if f['projected'] else ''}"
        + (f" by {f['deadline']}" if f.get("deadline") else "")
        for f in entry["flags"] if f["status"] in ("above", "likely_above")
    )


def _write_csv(report: dict[str, Any]) -> None:
    from tracker.export import neutralise

    writer = csv.writer(sys.stdout)
    writer.writerow(["provider", "system", "version", "training_flop_central", "training_flop_low",
                     "training_flop_high", "confidence", "methods", "inference_flop_30d_central",
                     "flags"])
    for entry in report["systems"]:
        training = entry["training_flop"] or {}
        inference = entry.get("inference_flop_30d") or {}
        row = [entry["provider"], entry["system"], entry["version"], training.get("central"),
               training.get("low"), training.get("high"), entry["confidence"],
               ",".join(entry["methods"]), inference.get("central"), _flags_text(entry)]
        writer.writerow([neutralise(v) for v in row])


def _crossings_text(entry: dict[str, Any], names: dict[str, str]) -> str:
    """One line per regime the system is above or likely above, by the regime's name."""
    return "\n".join(
        f"{names.get(f['regime'], f['regime'])}: {f['status'].replace('_', ' ')}"
        + (" (projected)" if f["projected"] else "") + (f" by {f['deadline']}" if f.get("deadline") else "")
        for f in entry["flags"] if f["status"] in ("above", "likely_above")
    ) or "—"


def _print_table(report: dict[str, Any], names: dict[str, str]) -> None:
    """Provider and system, compute with its interval and confidence, and the regimes crossed;
    the methods and every flag are in --format json."""
    from tracker.cli.tables import Column, flop_text, interval_text, print_table

    rows = []
    for entry in report["systems"]:
        # Only planned or in-progress runs: the projected figure, marked as such.
        training = entry["training_flop"] or entry.get("projected_training_flop")
        mark = "" if entry["training_flop"] or not training else "\n(projected)"  # keeps the column narrow
        name = entry["system"] + (f"@{entry['version']}" if entry["version"] else "")
        rows.append([f"{entry['provider']} / {name}" if entry["provider"] else name,
                     flop_text(training["central"]) + mark if training else "no estimate",
                     interval_text(training["low"], training["high"]) if training else "—",
                     entry["confidence"] or "—", _crossings_text(entry, names)])
    print_table(f"Registry (methodology {report['methodology_version']}); training compute in FLOP",
                [Column("Provider / system"), Column("Compute", figure=True, right=True),
                 Column("90% interval", figure=True, right=True), Column("Confidence", figure=True),
                 Column("Above or likely above")], rows)


def register(app: typer.Typer) -> None:
    app.command("estimate")(estimate)
    app.command("evaluate")(evaluate)
    group = typer.Typer(help="The registry with estimates and flags; `publish` makes a system's figures public.",
                        invoke_without_command=True, no_args_is_help=False)
    group.callback()(systems)
    group.command("publish")(publish)
    app.add_typer(group, name="systems")
