"""The registry side of filing: systems created on first mention, base systems resolved.

A ``base_system`` is ``name`` or ``name@version``. It resolves first among the systems of the same
file, then among the provider's systems, then among every provider's systems when exactly one
matches; a bare ``name`` prefers the unversioned system and otherwise needs a single version.
More than one candidate is an error that lists them, as is no candidate at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, select

from tracker.filing.problems import Problem
from tracker.store.models import AISystem, Provider
from tracker.store.types import utcnow

T = TypeVar("T")
IN_CHUNK = 500  # bind parameters per IN (...) list; far below every backend's limit
SystemKey = tuple[str, str]  # (name, version)
_SYSTEM: sa.Table = AISystem.__table__  # type: ignore[attr-defined]


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def split_reference(text: str) -> tuple[str, str | None]:
    name, sep, version = text.rpartition("@")
    return (name.strip(), version.strip()) if sep and name.strip() else (text.strip(), None)


@dataclass(frozen=True)
class BaseRef:
    """Where a base system was found: in the file (by key) or in the registry (by id)."""

    file_key: SystemKey | None = None
    system_id: int | None = None


def _pick(candidates: list[SystemKey], version: str | None) -> list[SystemKey]:
    if version is not None:
        return [c for c in candidates if c[1] == version]
    unversioned = [c for c in candidates if c[1] == ""]
    return unversioned or candidates


def _label(system: AISystem, slugs: dict[int, str]) -> str:
    version = f"@{system.version}" if system.version else ""
    return f"{slugs.get(system.provider_id, '?')}/{system.name}{version}"


def resolve_bases(session: Session, provider_id: int | None, records: pl.DataFrame
                  ) -> tuple[dict[str, BaseRef], list[Problem]]:
    """Resolve every distinct base_system of a training-runs file; problems name each row."""
    in_file: list[SystemKey] = list(dict.fromkeys(zip(records["system"], records["version"], strict=True)))
    refs: dict[str, BaseRef] = {}
    problems: list[Problem] = []
    with_base = records.filter(pl.col("base_system").is_not_null())
    for text in with_base.get_column("base_system").unique().to_list():
        rows = with_base.filter(pl.col("base_system") == text)
        ref, problem = _resolve_one(session, provider_id, in_file, text)
        if ref is not None:
            refs[text] = ref
        for row, system, version in rows.select("row", "system", "version").iter_rows():
            if problem:
                problems.append(Problem(row, "base_system", problem))
            elif ref is not None and ref.file_key == (system, version):
                problems.append(Problem(row, "base_system", f"{text!r} is the run's own system; expected the "
                                                            "system this run starts from"))
    return refs, problems


def _resolve_one(session: Session, provider_id: int | None, in_file: list[SystemKey], text: str
                 ) -> tuple[BaseRef | None, str | None]:
    name, version = split_reference(text)
    local = _pick([k for k in in_file if k[0] == name], version)
    if len(local) == 1:
        return BaseRef(file_key=local[0]), None
    if len(local) > 1:
        listed = ", ".join(f"{n}@{v}" for n, v in local)
        return None, f"{text!r} is ambiguous in this file ({listed}); expected name@version"
    query = select(AISystem).where(AISystem.name == name)
    if version is not None:
        query = query.where(AISystem.version == version)
    found = list(session.exec(query).all())
    if version is None and any(s.version == "" for s in found):
        found = [s for s in found if s.version == ""]
    own = [s for s in found if s.provider_id == provider_id]
    pool = own or found
    if len(pool) == 1:
        return BaseRef(system_id=pool[0].id), None
    if not pool:
        return None, (f"{text!r} is not a system in this file or the registry; expected the name (or "
                      "name@version) of a filed system")
    slugs = {pid: slug for pid, slug in session.exec(select(Provider.id, Provider.slug)).all() if pid is not None}
    listed = ", ".join(sorted(_label(s, slugs) for s in pool))
    return None, f"{text!r} matches several systems ({listed}); expected name@version of one of them"


def ensure_systems(session: Session, provider_id: int, keys: Iterable[SystemKey]) -> tuple[dict[SystemKey, int],
                                                                                           int]:
    """Ids of the provider's systems by (name, version), creating those not seen before.

    Plain inserts and selects of three columns, not ORM objects: a usage file may name thousands
    of systems, and nothing later in the filing needs them as objects.
    """
    wanted = list(dict.fromkeys(keys))
    ids = _system_ids(session, provider_id, sorted({n for n, _ in wanted}))
    missing = [key for key in wanted if key not in ids]
    if missing:
        created_at = utcnow()
        session.execute(sa.insert(_SYSTEM), [
            {"provider_id": provider_id, "name": name, "version": version, "created_at": created_at}
            for name, version in missing])
        ids.update(_system_ids(session, provider_id, sorted({n for n, _ in missing})))
    return ids, len(missing)


def _system_ids(session: Session, provider_id: int, names: Sequence[str]) -> dict[SystemKey, int]:
    ids: dict[SystemKey, int] = {}
    for part in chunks(names):
        rows = session.execute(sa.select(_SYSTEM.c.name, _SYSTEM.c.version, _SYSTEM.c.id).where(
            _SYSTEM.c.provider_id == provider_id, _SYSTEM.c.name.in_(part)))
        ids.update({(name, version): system_id for name, version, system_id in rows})
    return ids
