"""`tracker demo`."""

from __future__ import annotations

import typer

from tracker.cli.errors import fail
from tracker.config import get_settings
from tracker.registry.pipeline import today_utc
from tracker.store.db import get_engine


def demo(
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="interface to listen on"),
    port: int = typer.Option(8050, "--port", metavar="PORT", help="TCP port (make demo PORT=8123 passes it)"),
    prepare_only: bool = typer.Option(False, "--prepare-only", help="file the data and exit, without serving"),
    verbose: bool = typer.Option(False, "--verbose", "-v",
                                 help="show every log line (INFO) of the server and the scheduler"),
) -> None:
    """Everything a first look needs, on the embedded database: data, scheduler and dashboard.

    Ctrl-C or SIGTERM stops it all: the server drains, then the scheduler it started is stopped
    and gives up its leader lock. Quiet unless --verbose: warnings and errors only."""
    from tracker import demo as demo_module
    from tracker.web.listener import InsecureSecretError, check_secret, stop_on_sigterm

    demo_module.configure_logging(verbose)
    settings = get_settings()
    if not prepare_only:
        try:
            check_secret(host, settings.secret_key)  # before filing anything or starting the scheduler
        except InsecureSecretError as exc:
            fail(str(exc))
    engine = get_engine()
    # SIGTERM becomes Ctrl-C for the whole command (not only while serving), so the cleanup in
    # demo.run always runs: a scheduler started a moment earlier is never left behind.
    with stop_on_sigterm():
        try:
            if prepare_only:
                state = demo_module.prepare(engine, settings, today_utc())
                typer.echo(state.summary)
                return
            demo_module.run(engine, settings, host, port, today_utc(), verbose=verbose)
        except KeyboardInterrupt:
            pass
    typer.echo("demo stopped")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
