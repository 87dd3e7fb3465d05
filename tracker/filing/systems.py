"""The registry side of filing: systems created on first mention, base systems resolved.

A ``base_system`` is ``name`` or ``name@version``. It resolves first among the systems of the same
file, then among the provider's own systems, then among other providers' systems whose figures
are public (``AISystem.figures_public``); a bare ``name`` prefers the unversioned system and
otherwise needs a single version. Another provider's confidential system is never a candidate:
it is answered exactly as a name that does not exist, and an ambiguity lists only the candidates
the provider may build on (docs/filing.md, "Lineage"). A base that would close a lineage cycle
(within the file, with the registry, or by amending a run's base) is an error naming the cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session, col, select

from tracker.filing.problems import MAX_PROBLEMS, Problem
from tracker.store import audit
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


def _key_label(key: SystemKey) -> str:
    return f"{key[0]}@{key[1]}" if key[1] else key[0]


NOT_FOUND = ("{text!r} is not a system in this file, nor one of your systems, nor a system whose figures are "
             "public; expected the name (or name@version) of one of them")


def resolve_bases(session: Session, provider_id: int | None, records: pl.DataFrame
                  ) -> tuple[dict[str, BaseRef], list[Problem]]:
    """Resolve every distinct base_system of a training-runs file; problems name each row."""
    # The file's systems by name, and its rows by base: one pass each, not one per distinct base
    # (a file of 10^4 fine-tunes has 10^4 bases).
    in_file: dict[str, list[SystemKey]] = {}
    for key in dict.fromkeys(zip(records["system"], records["version"], strict=True)):
        in_file.setdefault(key[0], []).append(key)
    refs: dict[str, BaseRef] = {}
    problems: list[Problem] = []
    rows_of: dict[str, list[tuple[int, str, str]]] = {}
    for row, system, version, text in records.filter(pl.col("base_system").is_not_null()).select(
            "row", "system", "version", "base_system").iter_rows():
        rows_of.setdefault(text, []).append((row, system, version))
    for text, rows in rows_of.items():
        ref, problem = _resolve_one(session, provider_id, in_file, text)
        if ref is not None:
            refs[text] = ref
        for row, system, version in rows:
            if problem:
                problems.append(Problem(row, "base_system", problem))
            elif ref is not None and ref.file_key == (system, version):
                problems.append(Problem(row, "base_system", f"{text!r} is the run's own system; expected the "
                                                            "system this run starts from"))
    if not problems and refs:
        problems = lineage_cycle_problems(session, provider_id, records, refs)
    return refs, sorted(problems, key=lambda p: p.row or 0)


def _resolve_one(session: Session, provider_id: int | None, in_file: dict[str, list[SystemKey]], text: str
                 ) -> tuple[BaseRef | None, str | None]:
    name, version = split_reference(text)
    local = _pick(in_file.get(name, []), version)
    if len(local) == 1:
        return BaseRef(file_key=local[0]), None
    if len(local) > 1:
        listed = ", ".join(f"{n}@{v}" for n, v in local)
        return None, f"{text!r} is ambiguous in this file ({listed}); expected name@version"
    # Only what the provider may build on is ever read: its own systems and public ones. Another
    # provider's confidential system must change nothing in the answer (no existence oracle).
    visible = sa.or_(col(AISystem.provider_id) == provider_id, col(AISystem.figures_public).is_(True))
    query = select(AISystem).where(AISystem.name == name, visible)
    if version is not None:
        query = query.where(AISystem.version == version)
    found = list(session.exec(query).all())
    own = [s for s in found if s.provider_id == provider_id]
    pool = own or found
    if version is None and any(s.version == "" for s in pool):
        pool = [s for s in pool if s.version == ""]
    if len(pool) == 1:
        return BaseRef(system_id=pool[0].id), None
    if not pool:
        return None, NOT_FOUND.format(text=text)
    slugs = {pid: slug for pid, slug in session.exec(
        select(Provider.id, Provider.slug).where(col(Provider.id).in_({s.provider_id for s in pool}))).all()
        if pid is not None}
    listed = ", ".join(sorted(_label(s, slugs) for s in pool))
    return None, f"{text!r} matches several systems ({listed}); expected name@version of one of them"


Node = int | SystemKey  # a registry system by id, or a system this file creates, by key


def _effective_bases(records: pl.DataFrame, refs: dict[str, BaseRef]) -> dict[SystemKey, tuple[int, BaseRef]]:
    """Per system of the file, the row and base its filing will record: the last row naming a base
    (what ``store._record_lineage`` writes)."""
    bases: dict[SystemKey, tuple[int, BaseRef]] = {}
    for row, system, version, text in records.select("row", "system", "version", "base_system").iter_rows():
        if text is not None and text in refs:
            bases[(system, version)] = (row, refs[text])
    return bases


def lineage_cycle_problems(session: Session, provider_id: int | None, records: pl.DataFrame,
                           refs: dict[str, BaseRef]) -> list[Problem]:
    """A problem on each row whose base would put its system on a lineage cycle, or on a lineage
    that already loops. The file's bases replace the recorded ones of its systems (amendments);
    every other system keeps its recorded base. The registry's links above the file are read a
    generation at a time (each system once), then every walk is one pass over a functional graph."""
    bases = _effective_bases(records, refs)
    if not bases:
        return []
    keys = list(dict.fromkeys(zip(records["system"], records["version"], strict=True)))
    existing = _system_ids(session, provider_id, sorted({n for n, _ in keys})) if provider_id is not None else {}
    node_of: dict[SystemKey, Node] = {key: existing.get(key, key) for key in keys}
    parent: dict[Node, Node | None] = {}
    for key, (_, ref) in bases.items():
        parent[node_of[key]] = node_of[ref.file_key] if ref.file_key is not None else ref.system_id
    frontier = {p for p in parent.values() if isinstance(p, int) and p not in parent}
    frontier |= {n for n in node_of.values() if isinstance(n, int) and n not in parent}
    while frontier:
        for part in chunks(sorted(frontier)):
            parent.update((int(i), b) for i, b in session.execute(
                sa.select(_SYSTEM.c.id, _SYSTEM.c.base_system_id).where(_SYSTEM.c.id.in_(part))))
        parent.update((n, None) for n in frontier if n not in parent)  # not found: the walk ends
        frontier = {p for n in frontier if isinstance(p := parent[n], int) and p not in parent}
    reaches = _cycles_reached(parent, [node_of[key] for key in bases])
    looping = [(key, row, cycle) for key, (row, _) in bases.items() if (cycle := reaches.get(node_of[key]))]
    if not looping:
        return []
    # One read of the registry systems named, and a bounded number of messages: a file of 10^4
    # rows in one loop must not cost 10^4 messages of 10^4 names each.
    looping = looping[:MAX_PROBLEMS]
    named: set[int] = {n for _, _, cycle in looping for n in cycle if isinstance(n, int)}
    described: dict[int, AISystem] = {}
    for part in chunks(sorted(named)):
        described.update((s.id, s) for s in session.exec(select(AISystem).where(col(AISystem.id).in_(part)))
                         if s.id is not None)
    return [Problem(row, "base_system", _cycle_message(described, provider_id, cycle, node_of[key]))
            for key, row, cycle in looping]


def _cycles_reached(parent: dict[Node, Node | None], starts: list[Node]) -> dict[Node, list[Node] | None]:
    """For each node walked from ``starts``, the cycle its lineage ends in (None: it ends at a root).
    Each node is walked once (the graph is functional: one base per system)."""
    reached: dict[Node, list[Node] | None] = {}
    for start in starts:
        path: list[Node] = []
        index: dict[Node, int] = {}
        node: Node | None = start
        while node is not None and node not in reached and node not in index:
            index[node] = len(path)
            path.append(node)
            node = parent.get(node)
        if node is None:
            result = None
        elif node in reached:
            result = reached[node]
        else:
            result = path[index[node]:]
        for visited in path:
            reached[visited] = result
    return reached


_CYCLE_NAMES = 12  # systems named in a cycle's message; a longer cycle is shortened in the middle


def _cycle_message(described: dict[int, AISystem], provider_id: int | None, cycle: list[Node], start: Node) -> str:
    def label(node: Node) -> str:
        if not isinstance(node, int):
            return _key_label(node)
        system = described.get(node)
        if system is None or (system.provider_id != provider_id and not system.figures_public):
            return "another provider's system"  # never named: it might not be public
        return _key_label((system.name, system.version))

    on_cycle = start in cycle
    first = cycle.index(start) if on_cycle else 0
    ordered = cycle[first:] + cycle[:first]
    shown = [label(n) for n in ordered[:_CYCLE_NAMES]]
    if len(ordered) > _CYCLE_NAMES:
        shown.append(f"… ({len(ordered)} systems in the cycle)")
    names = " -> ".join([*shown, label(ordered[0])])
    if on_cycle:
        return f"this base makes a lineage cycle: {names}; expected a base that does not descend from {label(start)!r}"
    return f"this base leads to a lineage that loops: {names}; expected a base whose lineage ends in a root system"


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


class SystemNotFoundError(LookupError):
    """No system of the provider by that reference (or several: the message says which)."""


def publish_figures(session: Session, *, provider_slug: str, reference: str, actor: str,
                    public: bool = True) -> AISystem:
    """Mark one of the provider's own systems as having public figures (or withdraw the mark), so
    that other providers may name it as a base and read its compute through their lineage.
    Audited; a no-op (not audited again) when the system is already so marked. The caller commits."""
    name, version = split_reference(reference)
    query = (select(AISystem).join(Provider, col(Provider.id) == AISystem.provider_id)
             .where(Provider.slug == provider_slug, AISystem.name == name))
    if version is not None:
        query = query.where(AISystem.version == version)
    found = list(session.exec(query).all())
    if version is None and any(s.version == "" for s in found):
        found = [s for s in found if s.version == ""]
    if not found:
        raise SystemNotFoundError(f"no system {reference!r} filed by provider {provider_slug!r}; expected the name "
                                  "(or name@version) of one of its systems")
    if len(found) > 1:
        listed = ", ".join(sorted(_key_label((s.name, s.version)) for s in found))
        raise SystemNotFoundError(f"{reference!r} names several systems of {provider_slug!r} ({listed}); "
                                  "expected name@version")
    system = found[0]
    if system.figures_public != public:
        system.figures_public = public
        session.add(system)
        session.flush()
        audit.record(session, actor=actor, action="system.figures_published" if public else "system.figures_withdrawn",
                     entity="ai_system", entity_id=system.id or 0,
                     details={"provider": provider_slug, "system": system.name, "version": system.version,
                              "figures_public": public})
    return system
