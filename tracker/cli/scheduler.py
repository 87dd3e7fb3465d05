"""`tracker scheduler`: the scheduled jobs, in their own process (never inside the web server)."""

from __future__ import annotations

import typer

from tracker.config import get_settings


def scheduler(
    once: bool = typer.Option(False, "--once", help="run every job one time, then exit (cron, tests)"),
    tick_seconds: float = typer.Option(
        None, "--tick-seconds", envvar="TRACKER_SCHEDULER_TICK_SECONDS", min=0.1,
        help="run every job at this interval instead of its schedule (tests, demos)"),
    standby_poll_seconds: float = typer.Option(
        5.0, "--standby-poll-seconds", envvar="TRACKER_SCHEDULER_STANDBY_POLL_SECONDS", min=0.1,
        help="how often a standby tries to take the leader lock"),
) -> None:
    """Run the scheduled jobs: inbox poll, evaluation, alert dispatch, reminders, public data.

    Start as many as you like: one leads, the others wait and take over when it stops.
    """
    from tracker.scheduler.main import Options, configure_logging, run

    configure_logging()
    options = Options(tick_seconds=tick_seconds, standby_poll_seconds=standby_poll_seconds,
                      health_check_seconds=min(5.0, standby_poll_seconds))
    raise typer.Exit(run(get_settings(), options, once=once))


def register(app: typer.Typer) -> None:
    app.command("scheduler")(scheduler)
