"""The transactional outbox: an alert and its deliveries are written with the change that causes
them, in the caller's transaction, so a change is never committed without its alert and an alert
never exists for a change that rolled back.

The insert is ``INSERT ... ON CONFLICT (idempotency_key) DO NOTHING`` on both backends: a second
enqueue of the same key (a re-run job, a concurrent writer) is a no-op instead of an integrity
error that would poison the caller's transaction, and it needs no savepoint (pysqlite's implicit
transactions make savepoints unreliable as the first statement of a transaction).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from tracker.alerts import payload as body_of
from tracker.alerts.links import link_base_url
from tracker.alerts.subscriptions import configured_sinks, list_subscriptions, matches, unique
from tracker.config import Settings, get_settings
from tracker.store.bulk import copy_into
from tracker.store.models import AISystem, Alert, AlertDelivery, Provider, columns
from tracker.store.types import utcnow

IN_CHUNK = 500  # bound parameters per IN (...) list; far below every backend's limit

KEY_MAX_CHARS = 128  # Alert.idempotency_key


def normalise_key(key: str) -> str:
    """Keys longer than the column keep a readable prefix and a hash of the whole."""
    if len(key) <= KEY_MAX_CHARS:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"{key[: KEY_MAX_CHARS - 33]}:{digest}"


INSERT_CHUNK = 1000  # alerts per executed INSERT (SQLAlchemy splits it further to the backend's limits)


@dataclass(frozen=True)
class AlertRequest:
    """One alert to enqueue: what ``enqueue`` takes, as a value (``enqueue_many`` takes many)."""

    kind: str
    idempotency_key: str
    payload: dict[str, Any]
    provider_id: int | None = None
    system_id: int | None = None
    regime_id: str | None = None


def enqueue(session: Session, *, kind: str, idempotency_key: str, payload: dict[str, Any],
            provider_id: int | None = None, system_id: int | None = None,
            regime_id: str | None = None, settings: Settings | None = None) -> Alert | None:
    """Add an alert and one pending delivery per sink; None when the key was enqueued before.

    Runs in the caller's session and does not commit. ``payload`` may carry any of the contract
    fields (provider, system, status, training_flop, threshold, deadline, url, ...) and extras
    (``accession`` makes the link point at the filing); the rest is looked up or left null.
    """
    request = AlertRequest(kind=kind, idempotency_key=idempotency_key, payload=payload,
                           provider_id=provider_id, system_id=system_id, regime_id=regime_id)
    alert_id = enqueue_many(session, [request], settings)[0]
    if alert_id is None:
        return None
    alert = session.get(Alert, alert_id)
    assert alert is not None  # inserted above, in this transaction
    session.refresh(alert)
    return alert


def enqueue_many(session: Session, requests: Sequence[AlertRequest],
                 settings: Settings | None = None) -> list[int | None]:
    """``enqueue`` for many alerts at once: the new alert ids in the order of ``requests``, None
    where the key was enqueued before (or earlier in ``requests``).

    A first evaluation of a large registry raises an alert per crossing (tens of thousands at
    10^5 systems); one at a time, each cost five statements and a session refresh (4 ms, 70% of
    the evaluation). Here the statements are per batch: the systems and providers named, the
    subscriptions, INSERT ... ON CONFLICT DO NOTHING RETURNING for the alerts, then the payloads
    (which carry the new ids) and the deliveries, each executed for many rows at once.
    """
    for request in requests:
        if request.kind not in body_of.KINDS:
            raise ValueError(f"unknown alert kind {request.kind!r}; expected one of {', '.join(body_of.KINDS)}")
    if not requests:
        return []
    settings = settings or get_settings()
    session.flush()  # the look-ups below read the store, pending objects included
    systems = _systems(session, {r.system_id for r in requests if r.system_id is not None})
    provider_ids = [r.provider_id if r.provider_id is not None or r.system_id not in systems
                    else systems[r.system_id][2] for r in requests]
    slugs = _provider_slugs(session, {p for p in provider_ids if p is not None})
    keys = [normalise_key(r.idempotency_key) for r in requests]
    created_at = utcnow()
    rows: dict[str, dict[str, Any]] = {}
    for key, r, provider_id in zip(keys, requests, provider_ids, strict=True):
        rows.setdefault(key, {"idempotency_key": key, "kind": r.kind, "provider_id": provider_id,
                              "system_id": r.system_id, "regime_id": r.regime_id, "payload_json": "{}",
                              "created_at": created_at})  # the first request of a key wins
    configured = configured_sinks(settings)
    subscriptions = list_subscriptions(session)
    base_url = link_base_url(settings)

    def complete(request: AlertRequest, key: str, provider_id: int | None,
                 alert_id: int) -> tuple[str, list[dict[str, Any]]]:
        """The alert's payload (it carries the alert's id) and its deliveries."""
        system = systems.get(request.system_id) if request.system_id is not None else None
        name, version = (system[0], system[1]) if system is not None else (None, None)
        slug = slugs.get(provider_id) if provider_id is not None else None
        body = body_of.complete(
            request.payload, alert_id=alert_id, kind=request.kind, idempotency_key=key, provider=slug,
            system=name, version=version, system_id=request.system_id, regime=request.regime_id,
            base_url=base_url, created_at=created_at,
        )
        subscribed = [sub.sink for sub in subscriptions if matches(
            sub, regime_id=request.regime_id, provider_slug=slug, system_id=request.system_id)]
        return body_of.encode(body), [
            {"alert_id": alert_id, "sink": sink, "status": "pending", "attempts": 0, "next_attempt_at": created_at}
            for sink in unique([*configured, *subscribed])]

    if session.get_bind().dialect.name == "postgresql" and len(rows) >= COPY_ABOVE:
        return _enqueue_copied(session, requests, keys, provider_ids, rows, complete)
    new_ids = _insert_alerts(session, list(rows.values()))
    ids: list[int | None] = []
    payloads: list[dict[str, Any]] = []
    deliveries: list[dict[str, Any]] = []
    for key, request, provider_id in zip(keys, requests, provider_ids, strict=True):
        alert_id = new_ids.pop(key, None)  # popped: a key repeated in ``requests`` counts once
        ids.append(alert_id)
        if alert_id is None:
            continue
        payload_json, wanted = complete(request, key, provider_id, alert_id)
        payloads.append({"_id": alert_id, "_payload": payload_json})
        deliveries += wanted
    alert_table = Alert.__table__  # type: ignore[attr-defined]
    if payloads:
        session.execute(sa.update(alert_table).where(alert_table.c.id == sa.bindparam("_id"))
                        .values(payload_json=sa.bindparam("_payload")), payloads)
    if deliveries:
        session.execute(sa.insert(AlertDelivery.__table__), deliveries)  # type: ignore[attr-defined]
    return ids


# From this many alerts on PostgreSQL, the batch goes through COPY (_enqueue_copied).
COPY_ABOVE = 200
_ALERT_COLUMNS = ("id", "idempotency_key", "kind", "provider_id", "system_id", "regime_id", "payload_json",
                  "created_at")
_ALERT_TYPES: dict[str, Any] = {"id": pl.Int64, "idempotency_key": pl.String, "kind": pl.String,
                                "provider_id": pl.Int64, "system_id": pl.Int64, "regime_id": pl.String,
                                "payload_json": pl.String, "created_at": pl.Datetime("us", "UTC")}
_DELIVERY_TYPES: dict[str, Any] = {"alert_id": pl.Int64, "sink": pl.String, "status": pl.String,
                                   "attempts": pl.Int64, "next_attempt_at": pl.Datetime("us", "UTC")}


def _enqueue_copied(
    session: Session, requests: Sequence[AlertRequest], keys: list[str], provider_ids: list[int | None],
    rows: dict[str, dict[str, Any]],
    complete: Callable[[AlertRequest, str, int | None, int], tuple[str, list[dict[str, Any]]]],
) -> list[int | None]:
    """PostgreSQL, many alerts: the ids are drawn from the sequence first, so each payload is written
    with its alert (no UPDATE after); the alerts are copied into a temporary table and inserted from
    it with ``ON CONFLICT (idempotency_key) DO NOTHING RETURNING id``, and the deliveries of those
    inserted copied in. Four statements instead of tens of thousands of bound rows (a multi-row
    INSERT of 20,000 alerts spent most of its 10 s in psycopg parsing the statement)."""
    conn = session.connection()
    drawn = conn.execute(sa.text("SELECT nextval(pg_get_serial_sequence('alert', 'id')) FROM generate_series(1, :n)"),
                         {"n": len(rows)}).scalars().all()
    id_of = {key: int(alert_id) for key, alert_id in zip(rows, drawn, strict=True)}
    first_request: dict[str, tuple[AlertRequest, int | None]] = {}
    for key, request, provider_id in zip(keys, requests, provider_ids, strict=True):
        first_request.setdefault(key, (request, provider_id))
    deliveries: list[dict[str, Any]] = []
    for key, row in rows.items():
        request, provider_id = first_request[key]
        row["id"] = id_of[key]
        row["payload_json"], wanted = complete(request, key, provider_id, id_of[key])
        deliveries += wanted
    conn.execute(sa.text("CREATE TEMPORARY TABLE IF NOT EXISTS _outbox_alert "
                         "(LIKE alert INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"))
    conn.execute(sa.text("TRUNCATE _outbox_alert"))
    copy_into(conn, "_outbox_alert", pl.DataFrame([[row[c] for c in _ALERT_COLUMNS] for row in rows.values()],
                                                  schema=_ALERT_TYPES, orient="row"))
    listed = ", ".join(_ALERT_COLUMNS)
    inserted = set(conn.execute(sa.text(
        f"INSERT INTO alert ({listed}) SELECT {listed} FROM _outbox_alert ORDER BY id "
        "ON CONFLICT (idempotency_key) DO NOTHING RETURNING id")).scalars().all())
    new_deliveries = [d for d in deliveries if d["alert_id"] in inserted]
    if new_deliveries:
        copy_into(conn, "alert_delivery", pl.DataFrame(new_deliveries, schema=_DELIVERY_TYPES))
    ids: list[int | None] = []
    for key in keys:
        alert_id = id_of.pop(key, None)  # popped: a key repeated in ``requests`` counts once
        ids.append(alert_id if alert_id in inserted else None)
    return ids


def _insert_alerts(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert the rows whose key is new; their ids by key."""
    dialect = session.get_bind().dialect.name
    table = Alert.__table__  # type: ignore[attr-defined]
    insert: Any
    if dialect == "postgresql":
        insert = postgresql.insert
    elif dialect == "sqlite":
        insert = sqlite.insert
    else:  # pragma: no cover - the tracker supports these two backends only
        raise NotImplementedError(f"outbox insert not implemented for {dialect}")
    # One statement, executed for many rows: SQLAlchemy batches it into multi-row VALUES
    # ("insertmanyvalues") and compiles it once.
    stmt = (insert(table).on_conflict_do_nothing(index_elements=["idempotency_key"])
            .returning(table.c.id, table.c.idempotency_key))
    ids: dict[str, int] = {}
    for start in range(0, len(rows), INSERT_CHUNK):
        returned = session.execute(stmt, rows[start:start + INSERT_CHUNK])
        ids.update((str(key), int(alert_id)) for alert_id, key in returned)
    return ids


def _systems(session: Session, system_ids: set[int]) -> dict[int, tuple[str, str | None, int]]:
    """Name, version and provider of each system named."""
    s = columns(AISystem)
    found: dict[int, tuple[str, str | None, int]] = {}
    ordered = sorted(system_ids)
    for start in range(0, len(ordered), IN_CHUNK):
        query = sa.select(s.id, s.name, s.version, s.provider_id).where(s.id.in_(ordered[start:start + IN_CHUNK]))
        found.update((int(i), (name, version, int(provider))) for i, name, version, provider in session.execute(query))
    return found


def _provider_slugs(session: Session, provider_ids: set[int]) -> dict[int, str]:
    p = columns(Provider)
    ordered = sorted(provider_ids)
    slugs: dict[int, str] = {}
    for start in range(0, len(ordered), IN_CHUNK):
        query = sa.select(p.id, p.slug).where(p.id.in_(ordered[start:start + IN_CHUNK]))
        slugs.update((int(i), str(slug)) for i, slug in session.execute(query))
    return slugs
