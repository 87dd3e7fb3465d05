"""Validated records -> rows, superseding what an earlier filing said about the same thing.

A later filing for the same run_id (per provider), the same system and period (usage), or the
same cluster_id supersedes the earlier row: it stays, with ``is_current = False`` and a pointer
to its replacement, so both remain queryable and estimates read only current rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.filing.systems import BaseRef, chunks, ensure_systems
from tracker.store.bulk import insert_frame
from tracker.store.models import AISystem, ComputeCluster, Filing, InferenceUsage, TrainingRun

_USAGE_COLUMNS = ("period_start", "period_end", "input_tokens", "output_tokens", "requests", "mean_context_tokens",
                  "accelerator", "accelerator_hours", "utilization")


@dataclass(frozen=True)
class Stored:
    records: int
    superseded: int
    system_ids: list[int]


def _supersede(old_rows: Sequence[Any], new_id_for: dict[Any, int], key_of: Any) -> int:
    count = 0
    for old in old_rows:
        new_id = new_id_for.get(key_of(old))
        if new_id is not None and old.id != new_id:
            old.is_current = False
            old.superseded_by_id = new_id
            count += 1
    return count


def _filing_id(filing: Filing) -> int:
    if filing.id is None:
        raise ValueError("the filing must be flushed before its records")
    return filing.id


def store_training_runs(session: Session, filing: Filing, records: pl.DataFrame,
                        bases: dict[str, BaseRef]) -> Stored:
    provider_id, filing_id = filing.provider_id, _filing_id(filing)
    ids, _ = ensure_systems(session, provider_id, zip(records["system"], records["version"], strict=True))

    def base_id(text: str | None) -> int | None:
        ref = bases.get(text) if text else None
        if ref is None:
            return None
        return ref.system_id if ref.system_id is not None else ids[ref.file_key]  # type: ignore[index]

    runs = []
    for rec in records.iter_rows(named=True):
        system_id = ids[(rec["system"], rec["version"])]
        runs.append(TrainingRun(
            filing_id=filing_id, provider_id=provider_id, system_id=system_id, run_id=rec["run_id"],
            stage=rec["stage"], base_system_id=base_id(rec["base_system"]), status=rec["status"],
            accelerator=rec["accelerator"], accelerator_count=rec["accelerator_count"],
            training_hours=rec["training_hours"], chip_hours=rec["chip_hours"],
            start_date=rec["start_date"], end_date=rec["end_date"], precision=rec["precision"],
            utilization=rec["utilization"], parameters=rec["parameters"],
            active_parameters=rec["active_parameters"], training_tokens=rec["training_tokens"],
            reported_flop=rec["reported_flop"], notes=rec["notes"],
        ))
    session.add_all(runs)
    session.flush()
    _record_lineage(session, runs)
    new_ids = {r.run_id: r.id for r in runs if r.id is not None}
    superseded = 0
    for part in chunks(list(new_ids)):
        old = session.exec(select(TrainingRun).where(
            TrainingRun.provider_id == provider_id, col(TrainingRun.run_id).in_(part),
            col(TrainingRun.is_current).is_(True), TrainingRun.filing_id != filing.id,
        )).all()
        superseded += _supersede(old, new_ids, lambda r: r.run_id)
    return Stored(len(runs), superseded, sorted({r.system_id for r in runs}))


def _record_lineage(session: Session, runs: list[TrainingRun]) -> None:
    # The newest filing states the lineage: a system's base is the base of its latest run that names one.
    for run in runs:
        if run.base_system_id is not None and run.base_system_id != run.system_id:
            system = session.get(AISystem, run.system_id)
            if system is not None:
                system.base_system_id = run.base_system_id


def store_usage(session: Session, filing: Filing, records: pl.DataFrame) -> Stored:
    """Aggregated usage rows in one bulk insert (a file of any size is a few thousand rows)."""
    ids, _ = ensure_systems(session, filing.provider_id, zip(records["system"], records["version"], strict=True))
    filing_id = _filing_id(filing)
    table = InferenceUsage.__table__  # type: ignore[attr-defined]
    rows = records.select(
        pl.lit(filing_id, dtype=pl.Int64).alias("filing_id"),
        pl.Series("system_id", [ids[key] for key in zip(records["system"], records["version"], strict=True)],
                  dtype=pl.Int64),
        *_USAGE_COLUMNS,
        pl.lit(True).alias("is_current"),
    )
    conn = session.connection()
    insert_frame(conn, table, rows)
    system_ids = sorted(set(rows.get_column("system_id").to_list()))
    earlier = [
        row
        for part in chunks(system_ids)
        for row in conn.execute(
            sa.select(table.c.id, table.c.system_id, table.c.period_start, table.c.period_end).where(
                table.c.system_id.in_(part), table.c.is_current.is_(True), table.c.filing_id != filing_id)
        ).all()
    ]
    if not earlier:  # a first filing for these systems supersedes nothing: no need for the new ids
        return Stored(records.height, 0, system_ids)
    # Ids are assigned in insertion order: a period's first new row (several with several
    # accelerators) is the one an earlier row of that period points to once superseded.
    stored = conn.execute(
        sa.select(table.c.id, table.c.system_id, table.c.period_start, table.c.period_end)
        .where(table.c.filing_id == filing_id).order_by(table.c.id)
    ).all()
    new_ids: dict[tuple[int, Any, Any], int] = {}
    for row_id, system_id, start, end in stored:
        new_ids.setdefault((system_id, start, end), row_id)
    replaced: list[dict[str, int]] = []
    for row_id, system_id, start, end in earlier:
        new_id = new_ids.get((system_id, start, end))
        if new_id is not None and row_id != new_id:
            replaced.append({"old_id": row_id, "new_id": new_id})
    if replaced:
        conn.execute(
            table.update().where(table.c.id == sa.bindparam("old_id"))
            .values(is_current=False, superseded_by_id=sa.bindparam("new_id")),
            replaced,
        )
    return Stored(records.height, len(replaced), system_ids)


def store_clusters(session: Session, filing: Filing, records: pl.DataFrame) -> Stored:
    filing_id = _filing_id(filing)
    rows = [
        ComputeCluster(
            filing_id=filing_id, provider_id=filing.provider_id, cluster_id=rec["cluster_id"], site=rec["site"],
            accelerator=rec["accelerator"], accelerator_count=rec["accelerator_count"],
            interconnect_gbps=rec["interconnect_gbps"], operational_from=rec["operational_from"],
        )
        for rec in records.iter_rows(named=True)
    ]
    session.add_all(rows)
    session.flush()
    new_ids = {r.cluster_id: r.id for r in rows if r.id is not None}
    superseded = 0
    for part in chunks(list(new_ids)):
        old = session.exec(select(ComputeCluster).where(
            ComputeCluster.provider_id == filing.provider_id, col(ComputeCluster.cluster_id).in_(part),
            col(ComputeCluster.is_current).is_(True), ComputeCluster.filing_id != filing.id,
        )).all()
        superseded += _supersede(old, new_ids, lambda r: r.cluster_id)
    return Stored(len(rows), superseded, [])

