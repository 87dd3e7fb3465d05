"""A short-lived in-process cache for aggregates many viewers share (e.g. overview counts).

Keys always include the database URL and the scope's visibility (everything, or one provider),
so a provider never receives what was computed for a regulator or another provider.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from tracker.auth.scope import Scope

T = TypeVar("T")
DEFAULT_TTL_S = 30.0
MAX_ENTRIES = 512

_entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
_lock = threading.Lock()


def scope_key(scope: Scope) -> tuple[bool, int | None]:
    return (scope.sees_everything, None if scope.sees_everything else scope.provider_id)


def cached(key: Hashable, compute: Callable[[], T], ttl_s: float = DEFAULT_TTL_S) -> T:
    now = time.monotonic()
    with _lock:
        hit = _entries.get(key)
        if hit is not None and now - hit[0] < ttl_s:
            _entries.move_to_end(key)
            return hit[1]  # type: ignore[no-any-return]
    value = compute()  # outside the lock: two viewers may compute once each, never block
    with _lock:
        _entries[key] = (now, value)
        while len(_entries) > MAX_ENTRIES:
            _entries.popitem(last=False)
    return value


def clear() -> None:
    with _lock:
        _entries.clear()
