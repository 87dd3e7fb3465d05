"""`tracker worker`: files queued uploads and inbox files, and runs the evaluation after filings."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import typer

from tracker.config import get_settings


def worker(
    until_idle: bool = typer.Option(False, "--until-idle", help="exit once no job is due (cron, tests)"),
    poll_seconds: float = typer.Option(
        None, "--poll-seconds", envvar="TRACKER_WORKER_POLL_SECONDS", min=0.05, metavar="SECONDS",
        help="how often an idle worker looks for jobs (at least 0.05; PostgreSQL also wakes it at once on each "
             "new job)"),
) -> None:
    """Work the queue: large API and portal uploads, inbox files, evaluation after filings.

    Start as many as you like, on any host that sees the database and the spool and inbox folders.
    SIGTERM or Ctrl-C stops it after the job in hand.
    """
    from tracker.scheduler.main import configure_logging
    from tracker.worker.runner import Worker

    configure_logging()
    settings = get_settings()
    if poll_seconds is not None:
        settings = settings.model_copy(update={"worker_poll_seconds": poll_seconds})
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    Worker(settings, stop=stop).run(until_idle=until_idle)


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
