"""The worker loop: claim a job, do it while renewing its lease, repeat; wait when there is none.

Idle workers wake at once on PostgreSQL (``LISTEN tracker_jobs`` on a connection of their own; every
enqueue notifies in its transaction) and poll every ``TRACKER_WORKER_POLL_SECONDS`` on SQLite (and
on PostgreSQL too, for retries whose backoff ended and leases that ran out, which notify no one).

One job at a time per worker; run as many workers as you like (``tracker worker`` processes, or the
thread ``tracker scheduler`` and ``tracker demo`` start). SIGTERM and SIGINT stop a worker process
after the job in hand; a worker killed outright leaves its job to be claimed again after the lease.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker.config import Settings
from tracker.worker.claim import Claimed, LostClaim, claim_next, renew, retry_later
from tracker.worker.jobs import run_job, worker_engine
from tracker.worker.queue import NOTIFY_CHANNEL, local_wakeup

log = logging.getLogger(__name__)


class _Listener:
    """A PostgreSQL connection LISTENing on the queue's channel (None of it on SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._conn: Any = None

    def _connect(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self._conninfo, autocommit=True, application_name="tracker-worker")
            self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        return self._conn

    def start(self) -> None:
        try:
            self._connect()
        except Exception as exc:  # the poll still finds the jobs
            log.warning("cannot LISTEN for new jobs (%s); polling instead", str(exc).splitlines()[0])

    def wait(self, timeout_s: float) -> bool:
        """Block until a notification arrives (True) or ``timeout_s`` passes (False)."""
        try:
            conn = self._connect()
            woken = any(True for _ in conn.notifies(timeout=timeout_s, stop_after=1))
            if woken:  # drain what else arrived: one claim loop serves them all
                for _ in conn.notifies(timeout=0.0):
                    pass
            return woken
        except Exception as exc:
            log.warning("lost the LISTEN connection (%s); reconnecting", str(exc).splitlines()[0])
            self.close()
            return False

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None


class Worker:
    def __init__(self, settings: Settings, *, engine: Engine | None = None, stop: threading.Event | None = None,
                 name: str | None = None) -> None:
        self.settings = settings
        self.engine = engine or worker_engine(settings.database_url)
        self.stop = stop or threading.Event()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.current_thread().name}"
        self.listener = _Listener(self.engine) if self.engine.dialect.name == "postgresql" else None
        self.done = 0

    def run(self, *, until_idle: bool = False) -> int:
        """Work until stopped (or, with ``until_idle``, until no job is due). Returns jobs done."""
        if self.listener is not None:
            self.listener.start()
        log.info("worker %s started (%s)", self.name,
                 "LISTEN/NOTIFY" if self.listener else f"polling every {self.settings.worker_poll_seconds:g}s")
        try:
            while not self.stop.is_set():
                claimed = self._claim()
                if claimed is not None:
                    self._work(claimed)
                    continue
                if until_idle:
                    break
                self._idle()
        finally:
            if self.listener is not None:
                self.listener.close()
            log.info("worker %s stopped after %d job(s)", self.name, self.done)
        return self.done

    def _claim(self) -> Claimed | None:
        try:
            return claim_next(self.engine, self.name, self.settings.worker_lease_seconds)
        except sa.exc.SQLAlchemyError as exc:  # database away or busy: try again shortly
            log.warning("could not claim a job: %s", str(exc).splitlines()[0])
            self.stop.wait(self.settings.worker_poll_seconds)
            return None

    def _idle(self) -> None:
        if self.listener is not None:
            self.listener.wait(self.settings.worker_poll_seconds)
            return
        # SQLite: poll, but wake at once for a job this process queued (and for stop, within 0.1 s).
        deadline = time.monotonic() + self.settings.worker_poll_seconds
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            if local_wakeup.wait(min(0.1, left)):
                local_wakeup.clear()
                return

    def _work(self, claimed: Claimed) -> None:
        log.info("job %s (%s) claimed, attempt %d of %d", claimed.id, claimed.job_type, claimed.attempts,
                 claimed.max_attempts)
        finished = threading.Event()
        beat = threading.Thread(target=self._renew, args=(claimed, finished), name=f"lease-{claimed.id}",
                                daemon=True)
        beat.start()
        try:
            status = run_job(self.engine, self.settings, claimed)
            log.info("job %s (%s) %s", claimed.id, claimed.job_type, status)
        except LostClaim as exc:
            log.warning("job %s: %s; its work was rolled back", claimed.id, exc)
        except Exception as exc:
            error = f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
            log.exception("job %s (%s) raised", claimed.id, claimed.job_type)
            try:
                log.info("job %s is %s after the error", claimed.id, retry_later(self.engine, claimed, error))
            except sa.exc.SQLAlchemyError:
                log.exception("job %s: could not record the error; its lease will run out and it is retried",
                              claimed.id)
        finally:
            finished.set()
            beat.join(timeout=5)
            self.done += 1

    def _renew(self, claimed: Claimed, finished: threading.Event) -> None:
        every_s = max(self.settings.worker_lease_seconds / 3, 0.05)
        while not finished.wait(every_s):
            try:
                if not renew(self.engine, claimed, self.settings.worker_lease_seconds):
                    return  # finished meanwhile, or no longer ours: the job's end says which
            except sa.exc.SQLAlchemyError as exc:
                log.warning("job %s: could not renew its lease: %s", claimed.id, str(exc).splitlines()[0])


def start_thread(settings: Settings, stop: threading.Event) -> threading.Thread:
    """An in-process worker (``tracker scheduler``, ``tracker demo``) until ``stop`` is set."""
    worker = Worker(settings, stop=stop, name=f"{socket.gethostname()}:{os.getpid()}:in-process")
    thread = threading.Thread(target=worker.run, name="tracker-worker", daemon=True)
    thread.start()
    return thread
