"""Read the current filed records into the frames the pure engines take.

Systems are keyed by their database id as text (``system_key``), so results map straight
back onto rows; clusters likewise by ``cluster_key``.

The whole registry is read for the nightly evaluation; after a filing only a ``Subset`` is: the
systems and clusters the filing touched, the systems whose figures depend on them (lineage
descendants: cumulative compute runs down the lineage) and the lineage ancestors those figures
are computed from. ``filing_touches``, ``lineage_edges`` and the pure ``evaluation_subset`` find it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from tracker.store.models import (
    AISystem,
    ComputeCluster,
    Filing,
    Flag,
    InferenceUsage,
    Provider,
    SystemCondition,
    TrainingRun,
    columns,
)

# Systems and clusters share the flag table; a prefix keeps their keys apart in one frame.
CLUSTER_PREFIX = "cluster:"


@dataclass(frozen=True)
class RegistryInputs:
    systems: pl.DataFrame
    runs: pl.DataFrame
    usage: pl.DataFrame
    clusters: pl.DataFrame
    previous_flags: pl.DataFrame
    # Conditions providers declared (CONDITION_SCHEMA): what regimes' unheld conditions and tiers read.
    conditions: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=CONDITION_SCHEMA))


RUN_SCHEMA: dict[str, Any] = {
    "run_key": pl.String, "system_key": pl.String, "base_system_key": pl.String, "stage": pl.String,
    "status": pl.String, "accelerator": pl.String, "accelerator_count": pl.Float64,
    "training_hours": pl.Float64, "chip_hours": pl.Float64, "start_date": pl.Date, "end_date": pl.Date,
    "precision": pl.String, "utilization": pl.Float64, "parameters": pl.Float64,
    "active_parameters": pl.Float64, "training_tokens": pl.Float64, "reported_flop": pl.Float64,
}
SYSTEM_SCHEMA: dict[str, Any] = {
    "system_key": pl.String, "base_system_key": pl.String, "provider_id": pl.Int64,
    "provider": pl.String, "name": pl.String, "version": pl.String, "is_downstream_modifier": pl.Boolean,
}
USAGE_SCHEMA: dict[str, Any] = {
    "system_key": pl.String, "period_start": pl.Date, "period_end": pl.Date, "input_tokens": pl.Float64,
    "output_tokens": pl.Float64, "requests": pl.Float64, "mean_context_tokens": pl.Float64,
    "accelerator": pl.String, "accelerator_hours": pl.Float64, "utilization": pl.Float64,
}
CLUSTER_SCHEMA: dict[str, Any] = {
    "cluster_key": pl.String, "provider": pl.String, "provider_id": pl.Int64, "accelerator": pl.String,
    "accelerator_count": pl.Float64,
}
CONDITION_SCHEMA: dict[str, Any] = {"system_key": pl.String, "condition": pl.String, "held": pl.Boolean}
FLAG_SCHEMA: dict[str, Any] = {
    "subject_key": pl.String, "subject_kind": pl.String, "regime_id": pl.String, "status": pl.String,
    "projected": pl.Boolean, "first_flagged_on": pl.Date, "crossed_on": pl.Date, "deadline": pl.Date,
    "notified_at": pl.Datetime("us", "UTC"),
}


# Ids per ``IN (...)`` list: far below SQLite's 32,766 bound parameters and PostgreSQL's 65,535.
IN_CHUNK = 5_000


@dataclass(frozen=True)
class Subset:
    """Database ids of the systems and clusters an evaluation reads (ascending, no repeats)."""

    system_ids: tuple[int, ...]
    cluster_ids: tuple[int, ...]

    @staticmethod
    def of(system_ids: Iterable[int], cluster_ids: Iterable[int] = ()) -> Subset:
        return Subset(tuple(sorted(set(system_ids))), tuple(sorted(set(cluster_ids))))


def chunked(ids: Sequence[int], size: int = IN_CHUNK) -> list[Sequence[int]]:
    return [ids[start:start + size] for start in range(0, len(ids), size)]


def _frame(session: Session, query: Any, schema: dict[str, Any]) -> pl.DataFrame:
    rows = session.execute(query).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


def _frame_where(session: Session, query: Any, schema: dict[str, Any], column: Any,
                 ids: Sequence[int] | None) -> pl.DataFrame:
    """``query`` for every row (``ids`` None) or for the rows whose ``column`` is in ``ids``."""
    if ids is None:
        return _frame(session, query, schema)
    parts = [_frame(session, query.where(column.in_(part)), schema) for part in chunked(ids)]
    return pl.concat(parts) if parts else pl.DataFrame(schema=schema)


def load_inputs(session: Session, subset: Subset | None = None) -> RegistryInputs:
    """Every current record (``subset`` None), or those of the subset's systems and clusters."""
    system_ids = subset.system_ids if subset is not None else None
    cluster_ids = subset.cluster_ids if subset is not None else None
    s, p = columns(AISystem), columns(Provider)
    base = AISystem.__table__.alias("base")  # type: ignore[attr-defined]
    systems = _frame_where(
        session,
        sa.select(
            sa.cast(s.id, sa.String), sa.cast(s.base_system_id, sa.String),
            s.provider_id, p.slug, s.name, s.version,
            sa.and_(base.c.id.is_not(None), base.c.provider_id != s.provider_id),
        )
        .join(p.id.table, p.id == s.provider_id)
        .outerjoin(base, base.c.id == s.base_system_id),
        SYSTEM_SCHEMA, s.id, system_ids,
    ).with_columns(pl.col("is_downstream_modifier").fill_null(False))
    t = columns(TrainingRun)
    runs = _frame_where(
        session,
        sa.select(
            sa.cast(t.id, sa.String), sa.cast(t.system_id, sa.String), sa.cast(t.base_system_id, sa.String),
            t.stage, t.status, t.accelerator, t.accelerator_count, t.training_hours, t.chip_hours,
            t.start_date, t.end_date, t.precision, t.utilization, t.parameters, t.active_parameters,
            t.training_tokens, t.reported_flop,
        ).where(t.is_current),
        RUN_SCHEMA, t.system_id, system_ids,
    )
    u = columns(InferenceUsage)
    usage = _frame_where(
        session,
        sa.select(
            sa.cast(u.system_id, sa.String), u.period_start, u.period_end, u.input_tokens, u.output_tokens,
            u.requests, u.mean_context_tokens, u.accelerator, u.accelerator_hours, u.utilization,
        ).where(u.is_current),
        USAGE_SCHEMA, u.system_id, system_ids,
    )
    c = columns(ComputeCluster)
    clusters = _frame_where(
        session,
        sa.select(sa.cast(c.id, sa.String), p.slug, c.provider_id, c.accelerator, c.accelerator_count)
        .join(p.id.table, p.id == c.provider_id)
        .where(c.is_current),
        CLUSTER_SCHEMA, c.id, cluster_ids,
    ).with_columns((CLUSTER_PREFIX + pl.col("cluster_key")).alias("cluster_key"))
    f = columns(Flag)
    flag_query = sa.select(
        sa.cast(f.subject_id, sa.String), f.subject_kind, f.regime_id, f.status, f.projected,
        f.first_flagged_on, f.crossed_on, f.deadline, f.notified_at,
    )
    if subset is None:
        flags = _frame(session, flag_query, FLAG_SCHEMA)
    else:
        flags = pl.concat([
            _frame_where(session, flag_query.where(f.subject_kind == "system"), FLAG_SCHEMA, f.subject_id,
                         subset.system_ids),
            _frame_where(session, flag_query.where(f.subject_kind == "cluster"), FLAG_SCHEMA, f.subject_id,
                         subset.cluster_ids),
        ])
    flags = flags.with_columns(
        pl.when(pl.col("subject_kind") == "cluster")
        .then(CLUSTER_PREFIX + pl.col("subject_key"))
        .otherwise(pl.col("subject_key"))
        .alias("subject_key")
    )
    k = columns(SystemCondition)
    conditions = _frame_where(
        session,
        sa.select(sa.cast(k.system_id, sa.String), k.condition, k.held).where(k.is_current),
        CONDITION_SCHEMA, k.system_id, system_ids,
    )
    return RegistryInputs(systems=systems, runs=runs, usage=usage, clusters=clusters, previous_flags=flags,
                          conditions=conditions)


# --- What a filing touches, and what must be read to re-evaluate it ---------------------------

EDGE_SCHEMA: dict[str, Any] = {"system_id": pl.Int64, "base_system_id": pl.Int64}


@dataclass(frozen=True)
class Touched:
    """What accepted filings changed: systems whose records changed, and clusters filed."""

    filing_ids: tuple[int, ...]
    system_ids: frozenset[int]
    cluster_ids: frozenset[int]


def latest_accepted_filing_id(session: Session) -> int:
    """The newest accepted filing's id (0 if none). Accepted filings are serialised by the filing
    service's lock, so they commit in id order: every accepted filing up to this id is visible."""
    g = columns(Filing)
    found = session.execute(sa.select(sa.func.max(g.id)).where(g.status == "accepted")).scalar_one_or_none()
    return int(found or 0)


def filing_touches(session: Session, after_id: int, through_id: int) -> Touched:
    """The systems and clusters whose records the accepted filings ``after_id < id <= through_id``
    changed: the systems of their runs and usage rows, the systems that held an earlier version of
    a re-filed run (a run_id may move to another system), and the clusters they filed."""
    g, t, u, c = columns(Filing), columns(TrainingRun), columns(InferenceUsage), columns(ComputeCluster)
    filing_ids = tuple(int(i) for i in session.execute(
        sa.select(g.id).where(g.id > after_id, g.id <= through_id, g.status == "accepted").order_by(g.id)
    ).scalars())
    systems: set[int] = set()
    clusters: set[int] = set()
    for part in chunked(filing_ids):
        runs = session.execute(sa.select(t.provider_id, t.run_id, t.system_id).where(t.filing_id.in_(part))).all()
        systems.update(int(system_id) for _, _, system_id in runs)
        by_provider: dict[int, set[str]] = defaultdict(set)
        for provider_id, run_id, _ in runs:
            by_provider[int(provider_id)].add(str(run_id))
        for provider_id, run_ids in by_provider.items():
            ordered = sorted(run_ids)
            for start in range(0, len(ordered), IN_CHUNK):
                # Every stored version of these runs (the index on provider_id, run_id serves it).
                systems.update(int(i) for i in session.execute(
                    sa.select(t.system_id).distinct()
                    .where(t.provider_id == provider_id, t.run_id.in_(ordered[start:start + IN_CHUNK]))
                ).scalars())
        # Usage supersedes within one system, so the new rows name every system concerned.
        systems.update(int(i) for i in session.execute(
            sa.select(u.system_id).distinct().where(u.filing_id.in_(part))).scalars())
        # Declared conditions likewise (they supersede per system and condition).
        k = columns(SystemCondition)
        systems.update(int(i) for i in session.execute(
            sa.select(k.system_id).distinct().where(k.filing_id.in_(part))).scalars())
        # A re-filed cluster is a new row (a new subject); the row it supersedes keeps its flags,
        # exactly as the whole-registry evaluation leaves them.
        clusters.update(int(i) for i in session.execute(sa.select(c.id).where(c.filing_id.in_(part))).scalars())
    return Touched(filing_ids, frozenset(systems), frozenset(clusters))


def lineage_edges(session: Session) -> pl.DataFrame:
    """Every base link the estimation may follow: each system's recorded base, and the base each of
    its current runs declares (``compute_registry`` takes the recorded one, else the newest run's).
    Two narrow columns: cheap next to reading the records themselves."""
    s, t = columns(AISystem), columns(TrainingRun)
    query = sa.union(
        sa.select(s.id, s.base_system_id).where(s.base_system_id.is_not(None)),
        sa.select(t.system_id, t.base_system_id).where(t.is_current, t.base_system_id.is_not(None)),
    )
    return _frame(session, query, EDGE_SCHEMA)


def _closure(start: Iterable[int], links: dict[int, list[int]]) -> set[int]:
    """``start`` and everything reachable from it along ``links`` (cycles are harmless here:
    the estimation reports them; this walk just stops at systems it has seen)."""
    seen = set(start)
    frontier = list(seen)
    while frontier:
        nxt = []
        for node in frontier:
            for other in links.get(node, ()):
                if other not in seen:
                    seen.add(other)
                    nxt.append(other)
        frontier = nxt
    return seen


def evaluation_subset(touched: Touched, edges: pl.DataFrame) -> tuple[Subset, Subset]:
    """(subjects, inputs) for re-evaluating what ``touched`` changed. Pure.

    Subjects, whose rows are rewritten: the touched systems and all their lineage descendants
    (their cumulative compute includes the touched systems'), and the touched clusters. Inputs,
    what is read to compute them: the subjects and all their lineage ancestors, so each subject's
    cumulative compute is summed over its whole lineage exactly as in a whole-registry run. Every
    possible base link is followed (recorded and run-declared), so both sets are supersets of what
    the estimation's own lineage rule reaches: a few extra systems evaluated to unchanged figures.
    """
    children: dict[int, list[int]] = defaultdict(list)
    parents: dict[int, list[int]] = defaultdict(list)
    for child, parent in edges.select("system_id", "base_system_id").iter_rows():
        children[parent].append(child)
        parents[child].append(parent)
    subjects = _closure(touched.system_ids, children)
    readable = _closure(subjects, parents)
    return Subset.of(subjects, touched.cluster_ids), Subset.of(readable, touched.cluster_ids)
