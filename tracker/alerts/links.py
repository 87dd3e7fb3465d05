"""The address alert links point at: the configured one, else where the dashboard is served.

``TRACKER_BASE_URL`` (``Settings.base_url``) wins whenever it is set. Without it, the web server
(and ``tracker demo``, before it files anything) records the address it serves in
``Settings.served_address_path``, and every process that builds alert links (the scheduler, the
worker, ``tracker evaluate``, the server itself) reads it from there, so a demo on port 8123
links to port 8123. The record names its database (as a hash of the URL, never the URL with its
password): a server of another database does not redirect this one's links.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

from tracker.config import Settings

log = logging.getLogger(__name__)

# Hosts that mean "every interface": a link needs an address a browser can open.
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104 - compared, never bound
_cache: dict[Path, tuple[int, dict[str, str]]] = {}


def configured(settings: Settings) -> bool:
    """Whether the base URL was set (environment, ``.env`` or argument) rather than defaulted."""
    return "base_url" in settings.model_fields_set


def served_url(host: str, port: int) -> str:
    """``http://host:port`` as a browser on this machine opens it."""
    name = "127.0.0.1" if host in _WILDCARD_HOSTS else host
    if ":" in name and not name.startswith("["):  # an IPv6 literal
        name = f"[{name}]"
    return f"http://{name}:{port}"


def _database_key(database_url: str) -> str:
    return hashlib.sha256(database_url.encode()).hexdigest()[:32]


def record_served_address(settings: Settings, host: str, port: int) -> str | None:
    """Record ``host:port`` as this database's dashboard address, unless a base URL is configured
    (then nothing is written: the configured one is what links use). Returns the recorded URL.
    A runtime folder that cannot be written is logged, never fatal: links then use the default."""
    if configured(settings) or port <= 0:
        return None
    url = served_url(host, port)
    path = settings.served_address_path
    try:
        records = _read(path)
        records[_database_key(settings.database_url)] = url
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(records, sort_keys=True), encoding="utf-8")
        temporary.replace(path)  # atomic: a reader sees the old record or the new, never half
    except OSError as exc:
        log.warning("could not record the served address in %s (%s): alert links use %s", path, exc,
                    settings.base_url)
        return None
    return url


def link_base_url(settings: Settings) -> str:
    """The base of every link in an alert, without a trailing slash: the configured base URL; else
    the address recorded for this database by the server that serves it; else the default."""
    if not configured(settings):
        recorded = _read(settings.served_address_path).get(_database_key(settings.database_url))
        if recorded:
            return recorded.rstrip("/")
    return settings.base_url.rstrip("/")


def _read(path: Path) -> dict[str, str]:
    """The records in ``path`` (empty when missing or unreadable), re-read only when the file
    changes: link building calls this once per alert."""
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        return {}
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return dict(cached[1])
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    records = {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}
    _cache[path] = (stamp, records)
    return dict(records)
