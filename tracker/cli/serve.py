"""`tracker serve`: the dashboard and the HTTP API behind waitress (a production WSGI server)."""

from __future__ import annotations

import typer

from tracker.cli.errors import fail


def serve(
    host: str = typer.Option("127.0.0.1", "--host", metavar="HOST", help="interface to listen on"),
    port: int = typer.Option(8050, "--port", metavar="PORT", help="TCP port"),
) -> None:
    """Serve the dashboard and the HTTP API until stopped (Ctrl+C or SIGTERM)."""
    # Imported here so that other commands start without loading Flask, Dash and Plotly.
    from tracker.web.listener import InsecureSecretError
    from tracker.web.server import serve as run_server

    typer.echo(f"serving on http://{host}:{port}/ (Ctrl+C or SIGTERM stops)")
    try:
        run_server(host, port)
    except InsecureSecretError as exc:
        fail(str(exc))
    typer.echo("stopped")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
