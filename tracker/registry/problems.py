"""Records an evaluation set aside instead of failing for everyone, told to the operators.

A lineage cycle in stored data (filed before filing refused them, or written around it) leaves
its systems unestimated (``RegistryResult.set_aside``). The operators get one ``evaluation_problem``
alert per cycle through the outbox, in the evaluation's transaction; its key is the cycle's
systems, so the nightly re-run does not repeat it.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlmodel import Session

from tracker.alerts.outbox import AlertRequest, enqueue_many
from tracker.config import Settings
from tracker.registry.compute import RegistryResult

PROBLEM_LINEAGE_CYCLE = "lineage_cycle"


def _label(row: dict[str, Any]) -> str:
    version = f"@{row['version']}" if row.get("version") else ""
    return f"{row['provider']}/{row['name']}{version}"


def cycle_alerts(result: RegistryResult) -> list[AlertRequest]:
    """One alert request per cycle in ``result.set_aside``, naming every system with its provider
    (the operators see the whole registry) and how many systems the cycle holds back. Pure."""
    aside = result.set_aside
    if aside.height == 0:
        return []
    keys = {k for cycle in aside.get_column("cycle").to_list() for k in cycle}
    described = {r["system_key"]: r for r in result.systems.filter(pl.col("system_key").is_in(list(keys)))
                 .select("system_key", "provider", "name", "version").iter_rows(named=True)}
    held_back = aside.group_by(pl.col("cycle").list.join(",").alias("_cycle")).len()
    counts = dict(held_back.iter_rows())
    requests = []
    for cycle in aside.filter(pl.col("on_cycle")).get_column("cycle").unique(maintain_order=True).to_list():
        names = [_label(described[k]) if k in described else f"system {k}" for k in [*cycle, cycle[0]]]
        requests.append(AlertRequest(
            kind="evaluation_problem",
            idempotency_key=f"evaluation_problem:{PROBLEM_LINEAGE_CYCLE}:{','.join(sorted(cycle, key=int))}",
            payload={"problem": PROBLEM_LINEAGE_CYCLE, "status": "set_aside",
                     "cycle": "lineage cycle: " + " -> ".join(names),
                     "system_ids": [int(k) for k in cycle], "systems_set_aside": counts[",".join(cycle)],
                     "action": "correct the base_system of one system on the cycle by an amendment"},
        ))
    return requests


def alert_set_aside(session: Session, result: RegistryResult, settings: Settings) -> int:
    """Enqueue the cycle alerts that are new; returns how many."""
    return sum(1 for alert_id in enqueue_many(session, cycle_alerts(result), settings) if alert_id is not None)
