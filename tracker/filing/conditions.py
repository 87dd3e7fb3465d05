"""Declared system conditions (kind ``system_conditions``): the keys a provider may declare, the
rule that checks them, and storing the declarations.

The keys are the regimes': each regime's ``condition_keys`` (its unheld AND-conditions) and its
tiers' ``domains`` (data/regimes.yaml, plus the operator's file). A later declaration of the same
system and condition supersedes the earlier one, which stays with ``is_current`` false.
"""

from __future__ import annotations

import functools
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from tracker.config import get_settings
from tracker.filing.store import Stored
from tracker.filing.systems import chunks, ensure_systems
from tracker.filing.validate import Check, _shown
from tracker.regimes.load import DEFAULT_REGIMES_PATH, load_regimes
from tracker.regimes.model import Regime
from tracker.store.bulk import insert_frame
from tracker.store.models import Filing, SystemCondition

MAX_LISTED = 12  # keys named in a rejection message; the JSON Schema lists them all


def declarable(regimes: list[Regime]) -> dict[str, str]:
    """Key -> what it means, over the regimes' unheld conditions and tier domains. Pure."""
    known: dict[str, str] = {}
    for regime in regimes:
        for key, text in regime.declarable_conditions:
            known.setdefault(key, text)
        for tier in regime.tiers:
            for key in tier.domains:
                known.setdefault(key, f"application domain ({regime.id} tier {tier.id})")
    return known


def known_conditions() -> dict[str, str]:
    """The declarable keys of the regimes in use (the shipped file and the operator's)."""
    extra = get_settings().regimes_extra_path
    files = [DEFAULT_REGIMES_PATH, *([Path(extra)] if extra else [])]
    try:
        state = tuple((str(f), f.stat().st_mtime_ns) for f in files)
    except OSError:
        state = tuple((str(f), 0) for f in files)
    return dict(_known_of(state))


@functools.lru_cache(maxsize=4)
def _known_of(state: tuple[tuple[str, int], ...]) -> tuple[tuple[str, str], ...]:
    default, *extra = (Path(name) for name, _ in state)
    return tuple(declarable(load_regimes(default, extra=extra or None)).items())


def condition_check() -> Check:
    """The ``condition`` cell must be a key some regime asks about (checked on the stripped,
    lower-cased text; the message lists the first keys and points to the full list)."""
    keys = sorted(known_conditions())
    listed = ", ".join(keys[:MAX_LISTED]) + (", ..." if len(keys) > MAX_LISTED else "")
    raw = pl.col("condition")
    message = (
        pl.when(raw.is_not_null() & ~raw.str.to_lowercase().is_in(keys))
        .then(pl.format(
            "'{}' is not a condition any regime asks about; expected one of " + listed.replace("{", "{{")
            + " (all in `tracker schema system_conditions`)", _shown("condition")))
        .otherwise(None)
    )
    return Check("condition", message)


def store_conditions(session: Session, filing: Filing, records: pl.DataFrame) -> Stored:
    """Insert the declarations and supersede each system's earlier one of the same condition."""
    assert filing.id is not None
    keys = list(zip(records["system"], records["version"], strict=True))
    ids, _ = ensure_systems(session, filing.provider_id, keys)
    table = SystemCondition.__table__  # type: ignore[attr-defined]
    rows = pl.DataFrame({
        "filing_id": [filing.id] * records.height,
        "system_id": [ids[key] for key in keys],
        "condition": records["condition"].str.to_lowercase(),
        "held": records["held"] == "yes",
        "notes": records["notes"],
        "is_current": [True] * records.height,
    }, schema={"filing_id": pl.Int64, "system_id": pl.Int64, "condition": pl.String, "held": pl.Boolean,
               "notes": pl.String, "is_current": pl.Boolean})
    conn = session.connection()
    insert_frame(conn, table, rows)
    system_ids = sorted(set(rows.get_column("system_id").to_list()))
    new_ids = {(system_id, condition): row_id for row_id, system_id, condition in conn.execute(
        sa.select(table.c.id, table.c.system_id, table.c.condition).where(table.c.filing_id == filing.id))}
    replaced = [
        {"old_id": row_id, "new_id": new_ids[(system_id, condition)]}
        for part in chunks(system_ids)
        for row_id, system_id, condition in conn.execute(
            sa.select(table.c.id, table.c.system_id, table.c.condition).where(
                table.c.system_id.in_(part), table.c.is_current.is_(True), table.c.filing_id != filing.id))
        if (system_id, condition) in new_ids
    ]
    if replaced:
        conn.execute(table.update().where(table.c.id == sa.bindparam("old_id"))
                     .values(is_current=False, superseded_by_id=sa.bindparam("new_id")), replaced)
    return Stored(records.height, len(replaced), system_ids)
