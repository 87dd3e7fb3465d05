"""Entry point of the ``tracker`` console script."""

from __future__ import annotations

import importlib
import sys

import typer
from typer import exceptions as typer_exceptions

from tracker import __version__
from tracker.cli.errors import report
from tracker.cli.help import PlainGroup

app = typer.Typer(
    cls=PlainGroup,  # help names values (--provider SLUG), not Python types (see tracker/cli/help.py)
    help="Compute threshold tracker: estimate AI compute and flag registration thresholds.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Each area registers its own commands; listed here so the command set reads in one place.
COMMAND_MODULES = (
    "tracker.cli.db",
    "tracker.cli.filing",
    "tracker.cli.registry",
    "tracker.cli.audit",
    "tracker.cli.demo",
    "tracker.cli.users",
    "tracker.cli.serve",
    "tracker.cli.alerts",
    "tracker.cli.scheduler",
    "tracker.cli.worker",
    "tracker.cli.regimes",
    "tracker.cli.certificate",
    "tracker.cli.registration",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tracker {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """Compute threshold tracker."""


for _module in COMMAND_MODULES:
    importlib.import_module(_module).register(app)


def run() -> None:
    """Console script: never show a traceback; print one sentence and exit non-zero."""
    try:
        # Without standalone mode click returns the exit code of typer.Exit instead of raising it.
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.exit(1)
    except Exception as exc:
        import click

        # Typer carries its own copy of click: a usage error (unknown --format, a missing argument)
        # is its ClickException, shown with the usage line and exit 2 like click's own.
        if isinstance(exc, click.ClickException | typer_exceptions.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(int(getattr(exc, "exit_code", 1)))
        sys.exit(report(exc))
    sys.exit(code if isinstance(code, int) else 0)
