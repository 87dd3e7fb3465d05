"""`tracker db ...`: schema migrations and the history tables' monthly partitions."""

from __future__ import annotations

import typer

from tracker.config import get_settings
from tracker.store import migrate

db_app = typer.Typer(help="Database schema management.", no_args_is_help=True)


@db_app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="target revision")) -> None:
    """Apply migrations to the database selected by TRACKER_DATABASE_URL."""
    url = get_settings().database_url
    migrate.upgrade(url, revision)
    typer.echo(f"database at {_redact(url)} is at revision {revision}")


@db_app.command("check")
def check() -> None:
    """Fail when the models and the migrated schema differ."""
    migrate.check(get_settings().database_url)
    typer.echo("schema matches the models")


@db_app.command("partitions")
def partitions(
    today: str = typer.Option("", "--today", metavar="YYYY-MM-DD", help="the day to act as of (default: today)"),
) -> None:
    """Create the coming months' history partitions and archive those past retention (PostgreSQL)."""
    from datetime import date

    from tracker.store import partitions as history
    from tracker.store.db import get_engine

    try:
        day = date.fromisoformat(today) if today else date.today()
    except ValueError:
        raise typer.BadParameter(f"--today {today[:40]!r} is not a date; expected YYYY-MM-DD") from None
    settings = get_settings()
    typer.echo(history.maintain(get_engine(settings.database_url), settings, day))


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
