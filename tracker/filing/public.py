"""Public reference data: Epoch AI's "AI Models" table as an independent source.

Each import is a snapshot (idempotent by file SHA-256) with a diff against the previous snapshot
of the same source, by normalised model name. Filed systems are matched to public records by
normalised name, or through an explicit SystemMatch for the hard cases; a system whose reported
compute differs from the public figure by more than 30% gets an open Discrepancy(source='public')
for the regime engine to alert on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from tracker.filing.systems import chunks
from tracker.store import audit
from tracker.store.models import (
    AISystem,
    Discrepancy,
    Provider,
    PublicRecord,
    PublicSnapshot,
    SystemMatch,
    TrainingRun,
)

DISCREPANCY_SHARE = 0.30  # |reported / public - 1| above this opens a discrepancy
_COLUMNS = {
    "Model": "name",
    "Organization": "organization",
    "Publication date": "publication_date",
    "Training compute (FLOP)": "training_flop",
    "Confidence": "confidence",
    "Parameters": "parameters",
}


@dataclass(frozen=True)
class SnapshotResult:
    snapshot_id: int
    source: str
    sha256: str
    created: bool  # False: the same file was imported before; nothing new stored
    row_count: int
    added: int
    changed: int
    removed: int
    discrepancies: int = 0


def name_key_expr(expr: pl.Expr) -> pl.Expr:
    """'Llama 3.1 405B' == 'llama-3.1-405b': case, spaces and punctuation do not name models apart."""
    return expr.str.to_lowercase().str.replace_all(r"[^\p{L}\p{N}]+", "")


def name_key(name: str) -> str:
    return str(pl.select(name_key_expr(pl.lit(name, dtype=pl.String))).item())


def read_epoch(path: Path) -> pl.DataFrame:
    """The table's relevant columns, typed; one row per normalised name (the first one listed)."""
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    missing = [c for c in _COLUMNS if c not in raw.columns]
    if missing:
        raise ValueError(f"{path.name} is not an Epoch AI models table: missing columns {', '.join(missing)}")
    frame = (
        raw.select([pl.col(k).str.strip_chars().alias(v) for k, v in _COLUMNS.items()])
        .with_columns(name_key_expr(pl.col("name")).alias("name_key"))
        .filter(pl.col("name_key").str.len_chars() > 0)
        .unique("name_key", keep="first", maintain_order=True)
    )
    fields = frame.select("name", "organization", "publication_date", "training_flop", "confidence",
                          "parameters").rows()
    # The hash covers the fields we keep, so "changed" means a change we would see.
    hashes = [hashlib.sha256("\x1f".join(f or "" for f in row).encode()).hexdigest() for row in fields]
    return frame.with_columns(
        pl.Series("row_hash", hashes, dtype=pl.String),
        pl.col("publication_date").str.slice(0, 10).str.to_date("%Y-%m-%d", strict=False),
        pl.col("training_flop").cast(pl.Float64, strict=False),
        pl.col("parameters").cast(pl.Float64, strict=False),
        pl.col("name").str.slice(0, 300),
        pl.col("name_key").str.slice(0, 300),
        pl.col("confidence").str.slice(0, 32),
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def import_epoch(target: Engine | Session, path: Path, actor: str, *, source: str | None = None) -> SnapshotResult:
    source = (source or f"epoch:{path.stem}")[:64]
    sha256 = _file_sha256(path)
    if isinstance(target, Session):
        return _import(target, path, actor, source, sha256)
    with Session(target, expire_on_commit=False) as session, session.begin():
        return _import(session, path, actor, source, sha256)


def _import(session: Session, path: Path, actor: str, source: str, sha256: str) -> SnapshotResult:
    seen = session.exec(select(PublicSnapshot).where(PublicSnapshot.source == source,
                                                     PublicSnapshot.sha256 == sha256)).first()
    if seen is not None and seen.id is not None:
        return SnapshotResult(seen.id, source, sha256, False, seen.row_count, seen.added, seen.changed,
                              seen.removed)
    frame = read_epoch(path)
    previous = dict(session.exec(select(PublicRecord.name_key, PublicRecord.row_hash).where(
        PublicRecord.source == source, col(PublicRecord.is_current).is_(True))).all())
    current = dict(zip(frame["name_key"], frame["row_hash"], strict=True))
    names = dict(zip(frame["name_key"], frame["name"], strict=True))
    added = sorted(k for k in current if k not in previous)
    removed = sorted(k for k in previous if k not in current)
    changed = sorted(k for k in current if k in previous and previous[k] != current[k])
    snapshot = PublicSnapshot(
        source=source, sha256=sha256, row_count=frame.height, added=len(added), changed=len(changed),
        removed=len(removed), diff_json=json.dumps({
            "added": [names[k] for k in added], "changed": [names[k] for k in changed], "removed": removed,
        }, ensure_ascii=False),
    )
    session.add(snapshot)
    session.flush()
    session.execute(sa.update(PublicRecord).where(
        col(PublicRecord.source) == source, col(PublicRecord.is_current).is_(True)).values(is_current=False))
    rows = frame.select("name", "name_key", "organization", "publication_date", "training_flop", "confidence",
                        "parameters", "row_hash").to_dicts()
    for row in rows:
        row.update(snapshot_id=snapshot.id, source=source, is_current=True)
    for part in chunks(rows, 1000):
        session.execute(sa.insert(PublicRecord), list(part))
    assert snapshot.id is not None
    audit.record(session, actor=actor, action="public.imported", entity="public_snapshot",
                 entity_id=snapshot.id, details={"source": source, "sha256": sha256, "rows": frame.height,
                                                 "added": len(added), "changed": len(changed),
                                                 "removed": len(removed), "file": path.name})
    found = record_public_discrepancies(session)
    return SnapshotResult(snapshot.id, source, sha256, True, frame.height, len(added), len(changed),
                          len(removed), found)


def add_match(session: Session, *, provider_slug: str, system: str, version: str, public_name: str,
              actor: str) -> SystemMatch:
    """Map a filed system to a public record's name (replacing an earlier mapping)."""
    found = session.exec(select(AISystem).join(Provider, AISystem.provider_id == Provider.id).where(  # type: ignore[arg-type]
        Provider.slug == provider_slug, AISystem.name == system, AISystem.version == version)).first()
    if found is None or found.id is None:
        label = f"{system}@{version}" if version else system
        raise LookupError(f"no system {label!r} filed by provider {provider_slug!r}")
    key = name_key(public_name)
    match = session.exec(select(SystemMatch).where(SystemMatch.system_id == found.id)).first()
    if match is None:
        match = SystemMatch(system_id=found.id, public_name_key=key)
        session.add(match)
    else:
        match.public_name_key = key
    session.flush()
    audit.record(session, actor=actor, action="public.matched", entity="ai_system", entity_id=found.id,
                 details={"public_name": public_name, "public_name_key": key})
    record_public_discrepancies(session, [found.id])
    return match


def _candidate_keys(system: AISystem, mapped: str | None) -> list[str]:
    if mapped:
        return [mapped]
    keys = [name_key(f"{system.name} {system.version}")] if system.version else []
    return [*keys, name_key(system.name)]


def public_record_for(session: Session, system: AISystem) -> PublicRecord | None:
    mapped = session.exec(select(SystemMatch.public_name_key).where(SystemMatch.system_id == system.id)).first()
    for key in _candidate_keys(system, mapped):
        record = session.exec(
            select(PublicRecord).where(PublicRecord.name_key == key, col(PublicRecord.is_current).is_(True))
            .order_by(col(PublicRecord.training_flop).is_(None), col(PublicRecord.snapshot_id).desc())
        ).first()
        if record is not None:
            return record
    return None


def record_public_discrepancies(session: Session, system_ids: list[int] | None = None) -> int:
    """Open a discrepancy where reported and public compute differ by more than 30%; returns how many.

    Compares the sum of ``reported_flop`` over a system's current runs with the public record's
    training compute. Already-open identical discrepancies are not repeated; ones that no longer
    hold are closed.
    """
    reported_q = (
        select(TrainingRun.system_id, sa.func.sum(TrainingRun.reported_flop))
        .where(col(TrainingRun.is_current).is_(True), col(TrainingRun.reported_flop).is_not(None))
        .group_by(col(TrainingRun.system_id))
    )
    if system_ids is not None:
        reported_q = reported_q.where(col(TrainingRun.system_id).in_(system_ids))
    created = 0
    for system_id, reported in session.exec(reported_q).all():
        system = session.get(AISystem, system_id)
        record = public_record_for(session, system) if system else None
        if record is None or not record.training_flop or not reported:
            continue
        ratio = float(reported) / record.training_flop
        open_rows = session.exec(select(Discrepancy).where(
            Discrepancy.system_id == system_id, Discrepancy.source == "public",
            col(Discrepancy.is_open).is_(True))).all()
        if abs(ratio - 1) <= DISCREPANCY_SHARE:
            for row in open_rows:
                row.is_open = False
            continue
        if any(r.reported_flop == reported and r.other_flop == record.training_flop for r in open_rows):
            continue
        for row in open_rows:  # superseded by the new comparison
            row.is_open = False
        session.add(Discrepancy(system_id=system_id, source="public", reported_flop=float(reported),
                                other_flop=record.training_flop, ratio=ratio))
        created += 1
    session.flush()
    return created
