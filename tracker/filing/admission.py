"""How many uploads a server process parses at once.

Waitress answers every request from one pool of threads. Four heavy uploads parsed at once used
to take all four threads, and ``GET /login`` waited 33 s behind them. Parsing stays in the request
thread (a process pool would copy each upload across and cost a Python start per worker), but only
``max_concurrent_parses`` requests may parse at a time, and the pool has more threads than that
(``server_threads``), so sign-in, pages and the grid always find a free thread. An upload that
finds every slot taken waits a moment, then is answered 503 with ``Retry-After``: nothing of it is
stored, and the client files it again. Small text files, which parse in milliseconds, need no slot.
Uploads above ``TRACKER_QUEUE_UPLOAD_ABOVE_BYTES`` (by default ``LIGHT_BYTES``) are not parsed in the
request at all: they are queued for a worker (``tracker.worker``), so only small workbooks and
Parquet files still take a slot here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from tracker.filing.read import detect_format

WAIT_S = 1.0  # how long an upload waits for a slot before 503: short, so it holds a thread briefly
RETRY_AFTER_S = 5
# Text under this size parses in milliseconds whatever it holds (the column cap bounds a header):
# it needs no slot, so many small filings at once are never turned away. A workbook or Parquet
# file of any size may inflate a hundredfold and always takes one.
LIGHT_BYTES = 256 * 1024


def needs_slot(content: bytes, filename: str) -> bool:
    return len(content) > LIGHT_BYTES or detect_format(content[:8], filename) in ("xlsx", "parquet")


class ParseSlots:
    def __init__(self, slots: int) -> None:
        self.slots = max(1, slots)
        self._semaphore = threading.BoundedSemaphore(self.slots)

    @contextmanager
    def held(self, wait_s: float = WAIT_S) -> Iterator[bool]:
        """True inside when a slot is held for the caller, False when none freed up in ``wait_s``."""
        acquired = self._semaphore.acquire(timeout=wait_s)
        try:
            yield acquired
        finally:
            if acquired:
                self._semaphore.release()


_LOCK = threading.Lock()
_BY_SIZE: dict[int, ParseSlots] = {}


def parse_slots(slots: int) -> ParseSlots:
    """The process's slots (one set per configured size, so tests with other settings get theirs)."""
    with _LOCK:
        return _BY_SIZE.setdefault(slots, ParseSlots(slots))
