"""Who receives an alert: the sinks configured in settings plus the matching subscriptions.

A sink is written ``<type>:<target>``: ``webhook:https://...``, ``email:person@example.org`` or
``log:alerts.jsonl``. A subscription follows everything (``all``) or one regime, provider (by
slug) or system (by id).

A ``log:`` sink added in the dashboard or the CLI writes only inside ``TRACKER_ALERT_LOG_DIR``: a
relative name is taken inside it, and a path that leaves it (``..``, an absolute path elsewhere,
a symbolic link pointing out) is refused, so an administrator's form cannot append to any file
the tracker's user may write. ``TRACKER_ALERT_LOG_PATH`` is the operator's own choice and may be
anywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sqlmodel import Session, col, select

from tracker.config import Settings, get_settings
from tracker.store import audit
from tracker.store.models import Subscription

SINK_TYPES = ("webhook", "email", "log")
SCOPE_KINDS = ("all", "regime", "provider", "system")


def parse_sink(sink: str) -> tuple[str, str]:
    """Split ``type:target``; raise ValueError with a sentence a user can act on."""
    kind, sep, target = sink.partition(":")
    if not sep or kind not in SINK_TYPES or not target.strip():
        raise ValueError(
            f"sink {sink!r} is not one of webhook:<url>, email:<address>, log:<path>"
        )
    if kind == "webhook" and not target.startswith(("http://", "https://")):
        raise ValueError(f"webhook sink {target!r} must be an http:// or https:// URL")
    if kind == "email" and "@" not in target:
        raise ValueError(f"e-mail sink {target!r} is not an address")
    return kind, target.strip()


def log_sink_path(target: str, log_dir: Path) -> Path:
    """The file a dashboard- or CLI-made ``log:`` sink writes, inside ``log_dir`` once ``..`` and
    symbolic links are resolved; ValueError with what is accepted otherwise."""
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target):
        raise ValueError(f"log sink {target!r} contains control characters; expected a file name such as "
                         "alerts.jsonl")
    root = log_dir.resolve()
    given = Path(target)
    path = (given if given.is_absolute() else root / given).resolve()
    if path == root or not path.is_relative_to(root):
        raise ValueError(f"log sink {target!r} is outside the alert log folder {root} (TRACKER_ALERT_LOG_DIR); "
                         "expected a file name inside it, such as log:alerts.jsonl")
    return path


def operator_log_path(target: str, settings: Settings) -> Path | None:
    """The operator's TRACKER_ALERT_LOG_PATH when ``target`` names exactly it, else None."""
    if settings.alert_log_path is not None and target == str(Path(settings.alert_log_path)):
        return Path(settings.alert_log_path)
    return None


def configured_sinks(settings: Settings) -> list[str]:
    """The sinks that receive every alert, from TRACKER_ALERT_* settings."""
    sinks: list[str] = []
    if settings.alert_webhook_url:
        sinks.append(f"webhook:{settings.alert_webhook_url}")
    for address in (settings.alert_email_to or "").split(","):
        if address.strip():
            sinks.append(f"email:{address.strip()}")
    if settings.alert_log_path:
        sinks.append(f"log:{Path(settings.alert_log_path)}")
    return sinks


def matches(sub: Subscription, *, regime_id: str | None, provider_slug: str | None,
            system_id: int | None) -> bool:
    if sub.scope_kind == "all":
        return True
    wanted = {"regime": regime_id, "provider": provider_slug,
              "system": None if system_id is None else str(system_id)}.get(sub.scope_kind)
    return wanted is not None and sub.scope_value == wanted


def unique(sinks: Iterable[str]) -> list[str]:
    # One delivery per (alert, sink): the table's unique constraint, kept in order of appearance.
    return list(dict.fromkeys(sinks))


def subscribe(session: Session, sink: str, *, scope_kind: str = "all",
              scope_value: str | None = None, actor: str, settings: Settings | None = None) -> Subscription:
    """Add a subscription (idempotent: the same sink and scope twice is one subscription)."""
    kind, target = parse_sink(sink)
    if kind == "log":
        log_sink_path(target, (settings or get_settings()).alert_log_dir)
    if scope_kind not in SCOPE_KINDS:
        raise ValueError(f"scope {scope_kind!r} is not one of {', '.join(SCOPE_KINDS)}")
    if (scope_kind == "all") != (scope_value is None):
        raise ValueError("scope 'all' takes no value; regime, provider and system need one")
    existing = session.exec(
        select(Subscription).where(Subscription.sink == sink, Subscription.scope_kind == scope_kind,
                                   Subscription.scope_value == scope_value)
    ).first()
    if existing is not None:
        return existing
    sub = Subscription(sink=sink, scope_kind=scope_kind, scope_value=scope_value)
    session.add(sub)
    session.flush()
    audit.record(session, actor=actor, action="alert.subscribe", entity="subscription",
                 entity_id=sub.id or 0,
                 details={"sink": sink, "scope_kind": scope_kind, "scope_value": scope_value})
    return sub


def list_subscriptions(session: Session) -> list[Subscription]:
    return list(session.exec(select(Subscription).order_by(col(Subscription.id))).all())
