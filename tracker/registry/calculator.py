"""The provider's calculator (`tracker estimate FILE`): a parsed disclosure in, the contract's JSON
out, through the same pure engines the registry uses and without touching any database.

Systems are identified inside the file by ``name`` or ``name@version``; a ``base_system`` that the
file does not contain cannot add its compute, which the output says in ``notes``.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl

from tracker.catalog.accelerators import Catalog
from tracker.estimate import METHODOLOGY_VERSION
from tracker.regimes.model import Regime
from tracker.registry.compute import compute_registry
from tracker.registry.inputs import (
    CLUSTER_SCHEMA,
    FLAG_SCHEMA,
    RUN_SCHEMA,
    SYSTEM_SCHEMA,
    USAGE_SCHEMA,
    RegistryInputs,
)
from tracker.registry.report import CONTRACT_STATUSES, build_report, flag_json


def _system_key(name: pl.Expr, version: pl.Expr) -> pl.Expr:
    return pl.when(version.fill_null("") == "").then(name).otherwise(pl.format("{}@{}", name, version))


def _empty(schema: dict[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(schema=schema)


def _systems(records: pl.DataFrame) -> pl.DataFrame:
    return (
        records.select(
            _system_key(pl.col("system"), pl.col("version")).alias("system_key"),
            pl.col("system").alias("name"),
            pl.col("version").fill_null(""),
        )
        .unique("system_key", keep="first", maintain_order=True)
        .with_columns(
            pl.lit(None, pl.String).alias("base_system_key"), pl.lit(None, pl.Int64).alias("provider_id"),
            pl.lit(None, pl.String).alias("provider"), pl.lit(False).alias("is_downstream_modifier"),
        )
        .select(list(SYSTEM_SCHEMA))
    )


def _resolve_bases(runs: pl.DataFrame, keys: pl.Series) -> tuple[pl.DataFrame, list[str]]:
    """``name@version`` matches exactly; a bare ``name`` matches that system's unversioned entry or,
    failing that, its only version in the file."""
    by_name = (
        pl.DataFrame({"system_key": keys})
        .with_columns(pl.col("system_key").str.split("@").list.first().alias("base_system"))
        .group_by("base_system")
        .agg(pl.col("system_key").sort_by(pl.col("system_key").str.len_chars()).first().alias("_by_name"))
    )
    resolved = (
        runs.join(by_name, on="base_system", how="left")
        .with_columns(
            pl.when(pl.col("base_system").is_in(keys.implode()))
            .then(pl.col("base_system"))
            .otherwise(pl.col("_by_name"))
            .alias("base_system_key")
        )
    )
    missing = resolved.filter(pl.col("base_system").is_not_null() & pl.col("base_system_key").is_null())
    notes = [f"base system {b!r} is not in this file: its compute is not included in the cumulative figure"
             for b in missing["base_system"].unique(maintain_order=True).to_list()]
    return resolved.drop("_by_name"), notes


def estimate_file(kind: str, records: pl.DataFrame, catalog: Catalog, regimes: list[Regime],
                  as_of: date) -> dict[str, Any]:
    notes: list[str] = []
    if kind == "training_runs":
        systems = _systems(records)
        runs, notes = _resolve_bases(
            records.with_columns(_system_key(pl.col("system"), pl.col("version")).alias("system_key"),
                                 pl.col("run_id").alias("run_key")),
            systems["system_key"],
        )
        runs = runs.select([pl.col(c).cast(t) for c, t in RUN_SCHEMA.items()])
        usage = _empty(USAGE_SCHEMA)
    elif kind == "inference_usage":
        systems = _systems(records)
        runs = _empty(RUN_SCHEMA)
        usage = records.with_columns(
            _system_key(pl.col("system"), pl.col("version")).alias("system_key")
        ).select([pl.col(c).cast(t) for c, t in USAGE_SCHEMA.items()])
        # A usage file is judged over its own last 30 days, not the calculator's run date.
        as_of = usage["period_end"].max() or as_of  # type: ignore[assignment]
    elif kind == "system_conditions":
        # Declarations alone estimate nothing: the calculator echoes what the file declares.
        return {"methodology_version": METHODOLOGY_VERSION, "systems": [],
                "conditions": records.select("system", "version", "condition", "held", "notes").to_dicts()}
    else:
        return _clusters_report(records, catalog, regimes, as_of)
    inputs = RegistryInputs(systems=systems, runs=runs, usage=usage, clusters=_empty(CLUSTER_SCHEMA),
                            previous_flags=_empty(FLAG_SCHEMA))
    result = compute_registry(inputs, catalog, regimes, as_of)
    flags = result.evaluation.flags.filter(pl.col("subject_kind") == "system")
    report = build_report(result.systems, flags, include_inference=kind == "inference_usage")
    # Filing refuses a looping lineage; the calculator says why those systems have no estimate.
    notes += [f"{key}: not estimated, {reason}" for key, reason in
              result.set_aside.select("system_key", "reason").iter_rows()]
    if notes:
        report["notes"] = notes
    return report


def _clusters_report(records: pl.DataFrame, catalog: Catalog, regimes: list[Regime], as_of: date) -> dict[str, Any]:
    clusters = records.select(
        pl.col("cluster_id").alias("cluster_key"), pl.lit(None, pl.String).alias("provider"),
        pl.lit(None, pl.Int64).alias("provider_id"), "accelerator", pl.col("accelerator_count").cast(pl.Float64),
    )
    inputs = RegistryInputs(systems=_empty(SYSTEM_SCHEMA), runs=_empty(RUN_SCHEMA), usage=_empty(USAGE_SCHEMA),
                            clusters=clusters, previous_flags=_empty(FLAG_SCHEMA))
    result = compute_registry(inputs, catalog, regimes, as_of)
    by_cluster: dict[str, list[dict[str, Any]]] = {}
    reported = result.evaluation.flags.filter(pl.col("status").is_in(CONTRACT_STATUSES)).sort("regime_id")
    for flag in reported.iter_rows(named=True):
        by_cluster.setdefault(flag["subject_key"], []).append(flag_json(flag))
    out = []
    for row in result.clusters.iter_rows(named=True):
        peaks = {k: v for k, v in row.items() if k.startswith("peak_") and v is not None}
        out.append({"cluster_id": row["cluster_key"], "accelerator": row["accelerator"],
                    "accelerator_count": row["accelerator_count"], **peaks,
                    "flags": by_cluster.get(row["cluster_key"], [])})
    return {"methodology_version": METHODOLOGY_VERSION, "systems": [], "clusters": out}
