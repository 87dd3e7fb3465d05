"""`tracker demo`."""

from __future__ import annotations

import typer

from tracker.config import get_settings
from tracker.registry.pipeline import today_utc
from tracker.store.db import get_engine


def demo(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8050, "--port"),
    prepare_only: bool = typer.Option(False, "--prepare-only", help="file the data and exit, without serving"),
) -> None:
    """Everything a first look needs, on the embedded database: data, scheduler and dashboard."""
    from tracker import demo as demo_module

    settings = get_settings()
    engine = get_engine()
    if prepare_only:
        state = demo_module.prepare(engine, settings, today_utc())
        typer.echo(state.summary)
        return
    demo_module.run(engine, settings, host, port, today_utc())


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
