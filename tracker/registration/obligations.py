"""Opening obligations: after each evaluation, every system flag that crosses a regime carrying
an obligation has one ``Registration`` (system, regime), opened ``due`` with the flag's crossing
date, deadline and threshold.

Runs inside the evaluation's write transaction, after the flags are written, so an obligation is
never committed without the flag that opened it. Bulk: the pairs that already have a registration
are read once, the missing ones inserted with one statement executed for all of them (``ON
CONFLICT DO NOTHING`` on the (system, regime) key: a provider's voluntary registration committed
meanwhile wins), and their history, audit entries and alerts written in batches.

Which crossings open one: status ``above`` or ``likely_above`` of a system (a cluster's flag opens
nothing: registration is of AI systems), not conditional (a flag whose regime also needs a
condition the provider has not declared), and either current or, for a projected crossing, one
with a deadline (the regime counts planned compute, so the duty exists before training ends).
A ``due`` registration follows its flag's deadline while nothing has been submitted; once
submitted the deadline is met and stays as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlmodel import Session

from tracker.config import Settings
from tracker.registration.events import Transition, record_transitions
from tracker.registration.states import CROSSING_STATUSES, NOTIFIED
from tracker.registry.inputs import CLUSTER_PREFIX, chunked
from tracker.store.models import Registration, columns
from tracker.store.types import utcnow

# Above this many systems, reading every registration at once beats one IN (...) query per chunk.
READ_ALL_ABOVE = 5000

_CANDIDATE_SCHEMA: dict[str, Any] = {
    "system_id": pl.Int64, "regime_id": pl.String, "crossed_on": pl.Date, "deadline": pl.Date,
    "threshold": pl.Float64, "provider_id": pl.Int64, "notified": pl.Boolean,
}
_EXISTING_SCHEMA: dict[str, Any] = {
    "id": pl.Int64, "system_id": pl.Int64, "regime_id": pl.String, "state": pl.String,
    "old_deadline": pl.Date, "old_crossed_on": pl.Date, "old_threshold": pl.Float64,
}


def obligation_candidates(flags: pl.DataFrame, systems: pl.DataFrame, obligations: dict[str, str]) -> pl.DataFrame:
    """The (system, regime) crossings that carry an obligation, with the flag's dates and the
    system's provider. Pure. ``flags``: the evaluation's flag frame; ``systems``: system_key and
    provider_id; ``obligations``: regime id -> obligation, for the regimes that have one."""
    if flags.height == 0 or not obligations:
        return pl.DataFrame(schema=_CANDIDATE_SCHEMA)
    # The status first, on the enum's codes: a nightly frame holds a row per system and regime
    # (25 million at a million systems), of which a few percent cross; the rest is read on those.
    status = pl.col("status")
    crossing = flags.filter((status if isinstance(flags.schema["status"], pl.Enum) else status.cast(pl.String))
                            .is_in(CROSSING_STATUSES))
    keep = (
        ~pl.col("subject_key").str.starts_with(CLUSTER_PREFIX)
        & pl.col("regime_id").cast(pl.String).is_in(list(obligations))
        & (~pl.col("projected").fill_null(False) | pl.col("deadline").is_not_null())
    )
    if "conditional" in crossing.columns:
        keep = keep & ~pl.col("conditional").fill_null(False)
    owners = systems.select(pl.col("system_key").cast(pl.String), pl.col("provider_id").cast(pl.Int64))
    return (
        crossing.filter(keep)
        .select(pl.col("subject_key").cast(pl.String).alias("system_key"), pl.col("regime_id").cast(pl.String),
                "crossed_on", "deadline", pl.col("threshold").cast(pl.Float64),
                (pl.col("notified_at").is_not_null() if "notified_at" in flags.columns else pl.lit(False))
                .alias("notified"))
        .join(owners, on="system_key", how="inner")
        .select(pl.col("system_key").cast(pl.Int64).alias("system_id"), *list(_CANDIDATE_SCHEMA)[1:])
    )


def _existing(session: Session, system_ids: list[int]) -> pl.DataFrame:
    r = columns(Registration)
    query = sa.select(r.id, r.system_id, r.regime_id, r.state, r.deadline, r.crossed_on, r.threshold)
    if len(system_ids) > READ_ALL_ABOVE:
        rows = list(session.execute(query).all())
    else:
        rows = [row for part in chunked(system_ids) for row in session.execute(query.where(r.system_id.in_(part)))]
    return pl.DataFrame([tuple(row) for row in rows], schema=_EXISTING_SCHEMA, orient="row")


_UNNEST = sa.text("""
    INSERT INTO registration (system_id, provider_id, regime_id, obligation, state, voluntary, crossed_on,
                              deadline, threshold, opened_at, updated_at)
    SELECT s, p, g, o, 'due', false, c, d, t, :now, :now
    FROM unnest(CAST(:system_id AS integer[]), CAST(:provider_id AS integer[]), CAST(:regime_id AS varchar[]),
                CAST(:obligation AS varchar[]), CAST(:crossed_on AS date[]), CAST(:deadline AS date[]),
                CAST(:threshold AS double precision[])) AS rows(s, p, g, o, c, d, t)
    ON CONFLICT (system_id, regime_id) DO NOTHING
    RETURNING id, system_id, regime_id
""")


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[tuple[int, int, str]]:
    """Insert the registrations whose (system, regime) is still free; (id, system, regime) of each.
    ``ON CONFLICT DO NOTHING``: a voluntary registration committed meanwhile wins, and never fails
    the evaluation."""
    if session.get_bind().dialect.name == "postgresql":
        # One statement over arrays: a multi-row VALUES of this size costs psycopg seconds to parse.
        columns_of = {name: [row[name] for row in rows] for name in
                      ("system_id", "provider_id", "regime_id", "obligation", "crossed_on", "deadline", "threshold")}
        returned = session.execute(_UNNEST, {**columns_of, "now": rows[0]["opened_at"]})
        return [(int(i), int(s), str(g)) for i, s, g in returned]
    table = Registration.__table__  # type: ignore[attr-defined]
    stmt = (sqlite.insert(table).on_conflict_do_nothing(index_elements=["system_id", "regime_id"])
            .returning(table.c.id, table.c.system_id, table.c.regime_id))
    created: list[tuple[int, int, str]] = []
    for start in range(0, len(rows), 1000):
        created += [(int(i), int(s), str(g)) for i, s, g in session.execute(stmt, rows[start:start + 1000])]
    return created


def open_obligations(session: Session, flags: pl.DataFrame, systems: pl.DataFrame,
                     obligations: dict[str, str], *, actor: str, settings: Settings) -> int:
    """Open a ``due`` registration for every crossing without one; keep due ones on their flag's
    deadline. Returns how many were opened."""
    candidates = obligation_candidates(flags, systems, obligations)
    if candidates.height == 0:
        return 0
    existing = _existing(session, sorted(set(candidates["system_id"].to_list())))
    joined = candidates.join(existing, on=["system_id", "regime_id"], how="left")
    _follow_deadlines(session, joined)
    _notified_before(session, joined)
    missing = joined.filter(pl.col("id").is_null())
    if missing.height == 0:
        return 0
    now = utcnow()
    rows = [{"system_id": row["system_id"], "provider_id": row["provider_id"], "regime_id": row["regime_id"],
             "obligation": obligations[row["regime_id"]], "state": "due", "voluntary": False,
             "crossed_on": row["crossed_on"], "deadline": row["deadline"], "threshold": row["threshold"],
             "opened_at": now, "updated_at": now}
            for row in missing.select(list(_CANDIDATE_SCHEMA)).iter_rows(named=True)]
    by_pair = {(row["system_id"], row["regime_id"]): row for row in rows}
    created = _insert(session, rows)
    record_transitions(session, [_opened(registration_id, by_pair[(system_id, regime_id)], actor)
                                 for registration_id, system_id, regime_id in created], settings, at=now)
    return len(created)


def _opened(registration_id: int, row: dict[str, Any], actor: str) -> Transition:
    return Transition(registration_id, row["system_id"], row["provider_id"], row["regime_id"], row["obligation"],
                      False, row["threshold"], row["deadline"], None, None, "due", "open", actor)


def _notified_before(session: Session, joined: pl.DataFrame) -> None:
    """A registration submitted before its flag crossed (a voluntary one) already told the
    regulator: the new crossing's notification is met by it."""
    met = joined.filter(pl.col("state").is_in(NOTIFIED) & ~pl.col("notified"))
    if met.height == 0:
        return
    from tracker.registration.submit import mark_notified

    for row in met.iter_rows(named=True):
        mark_notified(session, row["system_id"], row["regime_id"], f"registration {row['id']}")


def _follow_deadlines(session: Session, joined: pl.DataFrame) -> None:
    moved = joined.filter(
        (pl.col("state") == "due")
        & (pl.col("deadline").ne_missing(pl.col("old_deadline"))
           | pl.col("crossed_on").ne_missing(pl.col("old_crossed_on"))
           | pl.col("threshold").ne_missing(pl.col("old_threshold")))
    )
    if moved.height == 0:
        return
    table = Registration.__table__  # type: ignore[attr-defined]
    now = utcnow()
    updates: Sequence[dict[str, Any]] = [
        {"_id": row["id"], "_deadline": row["deadline"], "_crossed_on": row["crossed_on"],
         "_threshold": row["threshold"], "_now": now}
        for row in moved.iter_rows(named=True)]
    session.execute(
        sa.update(table).where(table.c.id == sa.bindparam("_id"), table.c.state == "due")
        .values(deadline=sa.bindparam("_deadline"), crossed_on=sa.bindparam("_crossed_on"),
                threshold=sa.bindparam("_threshold"), updated_at=sa.bindparam("_now")),
        list(updates))
