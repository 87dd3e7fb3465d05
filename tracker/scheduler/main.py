"""Run the scheduler: wait for leadership, then run APScheduler until told to stop.

Only the leader starts APScheduler (its job store, table ``apscheduler_jobs`` in the application
database, must never be shared by two live schedulers). A leader that loses its lock stops its
scheduler and goes back to standby. SIGTERM and SIGINT stop cleanly: running jobs finish, then
the lock is released so a standby takes over at once.

Every scheduler process, leader or standby, also runs a worker thread (``tracker.worker``) unless
started with ``--no-worker``: an install of one process files its inbox and evaluates after
filings without a ``tracker worker`` beside it.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from types import FrameType

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import ref_to_obj
from sqlalchemy.engine import Engine

from tracker.config import Settings
from tracker.scheduler.leader import LeaderLock, lock_for, wait_for_leadership
from tracker.store.db import get_engine

log = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"
DAILY_MISFIRE_GRACE_S = 6 * 3600  # a daily job missed by a short outage still runs that day


@dataclass(frozen=True)
class Options:
    tick_seconds: float | None = None  # when set, every job runs at this interval (tests, demos)
    standby_poll_seconds: float = 5.0
    health_check_seconds: float = 5.0
    worker: bool = True  # run a worker thread in this process (tracker.worker)


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: str  # module:function, as stored in the job store
    interval_s: float | None  # None: daily at ``at_utc``
    at_utc: tuple[int, int] = (0, 0)
    on_start: bool = False  # run as soon as a leader starts (cheap, catches up after a takeover)


def job_specs(settings: Settings) -> list[JobSpec]:
    """Order matters for ``--once``: fresh public data and filings before evaluation, and the
    alerts that evaluation and reminders enqueue before dispatch."""
    ref = "tracker.scheduler.jobs:"
    return [
        JobSpec("public-refresh", ref + "refresh_public_data", None, (1, 30)),
        JobSpec("inbox-poll", ref + "poll_inbox", settings.inbox_poll_seconds, on_start=True),
        JobSpec("evaluate", ref + "evaluate", None, (2, 0)),
        JobSpec("deadline-reminders", ref + "remind_deadlines", None, (6, 0), on_start=True),
        JobSpec("audit-checkpoint", ref + "checkpoint_audit", None, (2, 30)),
        JobSpec("partition-maintenance", ref + "maintain_partitions", None, (0, 15), on_start=True),
        JobSpec("alerts-dispatch", ref + "dispatch_alerts", settings.dispatch_seconds, on_start=True),
    ]


def _trigger(spec: JobSpec, tick_seconds: float | None) -> tuple[BaseTrigger, int]:
    """The trigger and the misfire grace time (seconds) of a job."""
    interval = tick_seconds or spec.interval_s
    if interval is not None:
        return IntervalTrigger(seconds=interval, timezone=UTC), max(int(interval), 1)
    hour, minute = spec.at_utc
    return CronTrigger(hour=hour, minute=minute, timezone=UTC), DAILY_MISFIRE_GRACE_S


def build_scheduler(engine: Engine, settings: Settings,
                    options: Options) -> tuple[BlockingScheduler, ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=4)
    scheduler = BlockingScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOB_TABLE)},
        executors={"default": executor},
        timezone=UTC,
    )
    now = datetime.now(UTC)
    for spec in job_specs(settings):
        trigger, grace = _trigger(spec, options.tick_seconds)
        extra = {"next_run_time": now} if spec.on_start else {}
        scheduler.add_job(spec.func, trigger=trigger, id=spec.id, name=spec.id,
                          replace_existing=True, coalesce=True, max_instances=1,
                          misfire_grace_time=grace, **extra)
    return scheduler, executor


def run_once(settings: Settings) -> None:
    # The same references the job store holds, resolved the same way.
    for spec in job_specs(settings):
        ref_to_obj(spec.func)()


class _Stop:
    """Set by SIGTERM/SIGINT. The handler only sets an event: it interrupts the main thread at
    an arbitrary point, possibly inside APScheduler holding a lock that shutdown() needs; the
    standby wait and the leader's watcher thread act on the event instead."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: shutting down", signal.Signals(signum).name)
        self.event.set()


def _watch(lock: LeaderLock, scheduler: BlockingScheduler, stop: threading.Event,
           done: threading.Event, health_every_s: float, lost: threading.Event) -> None:
    """Stop the scheduler when asked to (within 0.1 s) or when the leader lock is gone (then
    another process may already be leading)."""
    next_check = time.monotonic() + health_every_s
    while not done.wait(0.1):
        if not scheduler.running:
            continue
        if stop.is_set():
            scheduler.shutdown(wait=False)
            return
        if time.monotonic() >= next_check:
            next_check = time.monotonic() + health_every_s
            if not lock.still_held():
                log.error("lost the leader lock (%s): stopping jobs", lock.description)
                lost.set()
                scheduler.shutdown(wait=False)
                return


def _lead(engine: Engine, settings: Settings, options: Options, lock: LeaderLock,
          stop: _Stop) -> None:
    """Run jobs until stopped or until leadership is lost."""
    scheduler, executor = build_scheduler(engine, settings, options)
    lost = threading.Event()
    done = threading.Event()
    watcher = threading.Thread(target=_watch, name="leader-watch", daemon=True,
                               args=(lock, scheduler, stop.event, done, options.health_check_seconds,
                                     lost))
    try:
        if stop.event.is_set():
            return
        log.info("leader: scheduler started with jobs %s",
                 ", ".join(spec.id for spec in job_specs(settings)))
        watcher.start()
        scheduler.start()  # blocks until shutdown
    finally:
        done.set()
        # Let running jobs finish before the lock goes: a standby must not overlap with them.
        executor.shutdown(wait=True)
        log.info("leader: scheduler stopped")


def _run_worker_until_idle(settings: Settings) -> None:
    from tracker.worker.runner import Worker

    Worker(settings).run(until_idle=True)


def run(settings: Settings, options: Options, *, once: bool = False) -> int:
    """The ``tracker scheduler`` process. Returns the exit code."""
    engine = get_engine(settings.database_url)
    lock = lock_for(engine)
    stop = _Stop()
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    worker: threading.Thread | None = None
    try:
        if once:
            if not lock.try_acquire():
                log.info("another scheduler is the leader (%s): nothing to do", lock.description)
                return 0
            try:
                run_once(settings)
                if options.worker:  # what the poll queued is filed (and evaluated) before exiting
                    _run_worker_until_idle(settings)
            finally:
                lock.release()
            return 0
        if options.worker:
            from tracker.worker.runner import start_thread

            worker = start_thread(settings, stop.event)
        while not stop.event.is_set():
            if not wait_for_leadership(lock, stop.event, options.standby_poll_seconds):
                break
            log.info("became leader (%s)", lock.description)
            try:
                _lead(engine, settings, options, lock, stop)
            finally:
                lock.release()
                log.info("released the leader lock")
        return 0
    finally:
        stop.event.set()
        if worker is not None:
            worker.join(timeout=120)  # the job in hand finishes; a killed process leaves it to the lease
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def configure_logging() -> None:
    formatter = logging.Formatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)s pid=%(process)d %(name)s: %(message)s",
        datefmt="%Y-%m-%dT%H:%M:%S",
    )
    formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[handler], force=True)
    # APScheduler logs every run at INFO; our wrappers already log start, end and failures.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
