"""A short-lived in-process cache for aggregates many viewers share (e.g. overview counts).

Keys always include the database URL and the scope's visibility (everything, or one provider),
so a provider never receives what was computed for a regulator or another provider.

Several server processes run behind the reverse proxy, each with its own copy of this cache, so
every entry is also keyed by the database's data version (``queries.data_version``: the newest
audit entry's id, read once per request). After an evaluation, a filing or an acknowledgement on
any process, the next request on every process misses and recomputes: no process serves what was
true before a write it did not see. The version is read where the cached figures are read (the
read replica when there is one), so an entry is never filed under a version newer than its data.
The 30-second lifetime stays as the bound for writes that
append no audit entry (a bulk load behind the application's back).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import flask

from tracker.auth.scope import Scope
from tracker.store import queries
from tracker.web.auth import read_session

T = TypeVar("T")
DEFAULT_TTL_S = 30.0
MAX_ENTRIES = 512

_entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
_lock = threading.Lock()


def scope_key(scope: Scope) -> tuple[bool, int | None]:
    return (scope.sees_everything, None if scope.sees_everything else scope.provider_id)


def data_version() -> int:
    """The database's data version, read once per request (two cached parts share it)."""
    if "tracker_data_version" not in flask.g:
        with read_session() as session:  # the replica, as the reads it versions
            flask.g.tracker_data_version = queries.data_version(session)
    version: int = flask.g.tracker_data_version
    return version


def cached(key: Hashable, compute: Callable[[], T], ttl_s: float = DEFAULT_TTL_S) -> T:
    """``compute()``'s value for ``key`` at the current data version, reused for ``ttl_s``."""
    key = (data_version(), key)
    now = time.monotonic()
    with _lock:
        hit = _entries.get(key)
        if hit is not None and now - hit[0] < ttl_s:
            _entries.move_to_end(key)
            return hit[1]
    value = compute()  # outside the lock: two viewers may compute once each, never block
    with _lock:
        _entries[key] = (now, value)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
