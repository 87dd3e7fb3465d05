"""`tracker scheduler`: the scheduled jobs, in their own process (never inside the web server)."""

from __future__ import annotations

import logging
from enum import StrEnum

import typer

from tracker.config import get_settings


class LogLevel(StrEnum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


def scheduler(
    once: bool = typer.Option(False, "--once", help="run every job one time, then exit (cron, tests)"),
    tick_seconds: float = typer.Option(
        None, "--tick-seconds", envvar="TRACKER_SCHEDULER_TICK_SECONDS", min=0.1, metavar="SECONDS",
        help="run every job at this interval (at least 0.1) instead of its schedule (tests, demos)"),
    standby_poll_seconds: float = typer.Option(
        5.0, "--standby-poll-seconds", envvar="TRACKER_SCHEDULER_STANDBY_POLL_SECONDS", min=0.1, metavar="SECONDS",
        help="how often a standby tries to take the leader lock (at least 0.1)"),
    no_worker: bool = typer.Option(
        False, "--no-worker", help="do not run a worker thread here (when `tracker worker` processes run)"),
    log_level: LogLevel = typer.Option(LogLevel.INFO, "--log-level", envvar="TRACKER_LOG_LEVEL",
                                       help="least severe log lines shown (the demo runs it at WARNING)"),
) -> None:
    """Run the scheduled jobs: inbox poll, evaluation, alert dispatch, reminders, public data.

    Start as many as you like: one leads, the others wait and take over when it stops. Each also
    works the filing queue in a thread unless --no-worker is given.
    """
    from tracker.scheduler.main import Options, configure_logging, run

    configure_logging()
    logging.getLogger().setLevel(log_level.value)
    options = Options(tick_seconds=tick_seconds, standby_poll_seconds=standby_poll_seconds,
                      health_check_seconds=min(5.0, standby_poll_seconds), worker=not no_worker)
    raise typer.Exit(run(get_settings(), options, once=once))


def register(app: typer.Typer) -> None:
    app.command("scheduler")(scheduler)
