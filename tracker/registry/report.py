"""The contract's JSON shape (§3) for ``tracker systems`` and ``tracker estimate``.

Only the four contract statuses are reported as flags; ``unknown`` evaluations (a regime whose
test needs data the tracker does not hold) are left out of this output, not guessed.
"""

from __future__ import annotations

import json
import math
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.estimate import METHODOLOGY_VERSION
from tracker.store.models import AISystem, Estimate, Flag, Provider, Registration, columns
from tracker.store.models import Regime as RegimeRow
from tracker.store.queries.confidential import MASK_REASON, confidential_lineage, lineage_regimes

CONTRACT_STATUSES = ("above", "likely_above", "likely_below", "below")


def _interval(central: Any, low: Any, high: Any) -> dict[str, float] | None:
    if central is None or (isinstance(central, float) and math.isnan(central)):
        return None
    return {"central": float(central), "low": float(low if low is not None else central),
            "high": float(high if high is not None else central)}


def flag_json(row: dict[str, Any]) -> dict[str, Any]:
    """One flag as the contract's JSON writes it."""
    deadline = row.get("deadline")
    return {
        "regime": row["regime_id"], "status": row["status"], "projected": bool(row["projected"]),
        "threshold": row["threshold"],
        "deadline": deadline.isoformat() if isinstance(deadline, date) else deadline,
    } | _obligation(row) | _conditions(row)


def _conditions(row: dict[str, Any]) -> dict[str, Any]:
    """Beside the contract's fields: ``conditional`` with the conditions not yet held (contract §3),
    and the regime's ``tier`` where it grades systems."""
    if "conditional" not in row:
        return {}
    unheld = row.get("unheld_conditions")
    out: dict[str, Any] = {"conditional": bool(row["conditional"]),
                           "unheld_conditions": json.loads(unheld) if unheld else []}
    if row.get("tier"):
        out["tier"] = row["tier"]
    return out


def _obligation(row: dict[str, Any]) -> dict[str, Any]:
    """``tracker systems`` only: on a flag whose regime carries an obligation, its registration's
    state and number; null while no registration exists (nothing is due before a crossing)."""
    if not row.get("regime_obligation"):
        return {}
    if row.get("registration_state") is None:
        return {"obligation": None}
    return {"obligation": {"state": row["registration_state"],
                           "registration_number": row.get("registration_number")}}


def build_report(systems: pl.DataFrame, flags: pl.DataFrame, *, include_inference: bool = True) -> dict[str, Any]:
    """``systems``: system_key, provider, name, version, training_flop_*, confidence, methods
    (list of str), inference_flop_30d_*; ``flags``: subject_key, regime_id, status, projected,
    threshold, deadline."""
    by_system: dict[str, list[dict[str, Any]]] = {}
    reported = flags.filter(pl.col("status").is_in(CONTRACT_STATUSES)).sort("subject_key", "regime_id")
    for row in reported.iter_rows(named=True):
        by_system.setdefault(row["subject_key"], []).append(flag_json(row))
    out = []
    for row in systems.sort("provider", "name", "version", nulls_last=True).iter_rows(named=True):
        entry: dict[str, Any] = {
            "provider": row.get("provider"),
            "system": row["name"],
            "version": row.get("version") or "",
            "training_flop": _interval(row.get("training_flop_central"), row.get("training_flop_low"),
                                       row.get("training_flop_high")),
            "confidence": row.get("confidence"),
            "methods": list(row.get("methods") or []),
        }
        if include_inference:
            entry["inference_flop_30d"] = _interval(row.get("inference_flop_30d_central"),
                                                    row.get("inference_flop_30d_low"),
                                                    row.get("inference_flop_30d_high"))
            if "inference_latest_period_end" in row:
                entry["inference_flop_latest_period"] = _latest_period(row)
        if "projected_flop_central" in row:
            entry["projected_training_flop"] = _projected(row)
        entry["flags"] = by_system.get(row["system_key"], [])
        if row.get("masked"):
            # Built on another provider's confidential system: only the bound its provider may read.
            entry.update(training_flop=None, confidence=None, methods=[],
                         training_flop_at_least=row.get("own_training_flop_low"), masked_reason=MASK_REASON)
            if "projected_training_flop" in entry:
                entry["projected_training_flop"] = None
        out.append(entry)
    return {"methodology_version": METHODOLOGY_VERSION, "systems": out}


def _projected(row: dict[str, Any]) -> dict[str, Any] | None:
    """``projected_training_flop`` (beside the contract's fields): the training figure counting planned
    and in-progress runs, with its interval, methods and confidence; null without one. Where no run
    is completed it is the only training figure the system has."""
    interval = _interval(row.get("projected_flop_central"), row.get("projected_flop_low"),
                         row.get("projected_flop_high"))
    if interval is None:
        return None
    return {**interval, "methods": list(row.get("projected_methods") or []),
            "confidence": row.get("projected_confidence")}


def _latest_period(row: dict[str, Any]) -> dict[str, Any] | None:
    """``inference_flop_latest_period`` (beside ``inference_flop_30d``): the latest filed usage
    period's inference figure and its dates, which stays when the period is older than 30 days and
    the 30-day figure is null; null when no usage was filed."""
    interval = _interval(row.get("inference_latest_central"), row.get("inference_latest_low"),
                         row.get("inference_latest_high"))
    if interval is None:
        return None
    start, end = row.get("inference_latest_period_start"), row.get("inference_latest_period_end")
    return {**interval, "period_start": start.isoformat() if isinstance(start, date) else start,
            "period_end": end.isoformat() if isinstance(end, date) else end}


def report_from_db(session: Session, scope: Scope) -> dict[str, Any]:
    """The registry as stored: current estimates and flags, within the caller's scope."""
    s, p, e, f = columns(AISystem), columns(Provider), columns(Estimate), columns(Flag)
    query = scope.restrict(
        sa.select(sa.cast(s.id, sa.String), p.slug, s.name, s.version).join(p.id.table, p.id == s.provider_id),
        s.provider_id,
    )
    systems = pl.DataFrame(
        [tuple(r) for r in session.execute(query).all()], orient="row",
        schema={"system_key": pl.String, "provider": pl.String, "name": pl.String, "version": pl.String},
    )
    est_query = scope.restrict(
        sa.select(sa.cast(e.system_id, sa.String), e.kind, e.central_flop, e.low_flop, e.high_flop,
                  e.confidence, e.methods)
        .join(s.id.table, s.id == e.system_id)
        .where(e.is_current, e.kind.in_(("training", "inference_30d", "modification", "projected"))),
        s.provider_id,
    )
    est = pl.DataFrame(
        [tuple(r) for r in session.execute(est_query).all()], orient="row",
        schema={"system_key": pl.String, "kind": pl.String, "central": pl.Float64, "low": pl.Float64,
                "high": pl.Float64, "confidence": pl.String, "methods": pl.String},
    )
    training = est.filter(pl.col("kind") == "training").select(
        "system_key", pl.col("central").alias("training_flop_central"), pl.col("low").alias("training_flop_low"),
        pl.col("high").alias("training_flop_high"), "confidence",
        pl.col("methods").str.split(",").list.filter(pl.element() != "").alias("methods"),
    )
    inference = est.filter(pl.col("kind") == "inference_30d").select(
        "system_key", pl.col("central").alias("inference_flop_30d_central"),
        pl.col("low").alias("inference_flop_30d_low"), pl.col("high").alias("inference_flop_30d_high"),
    )
    g, r = columns(RegimeRow), columns(Registration)
    flag_query = scope.restrict(
        sa.select(sa.cast(f.subject_id, sa.String), f.regime_id, f.status, f.projected, f.threshold, f.deadline,
                  g.obligation, r.state, r.registration_number, f.conditional, f.unheld_conditions, f.tier)
        .join(s.id.table, s.id == f.subject_id)
        .outerjoin(g.id.table, g.id == f.regime_id)
        .outerjoin(r.id.table, sa.and_(r.system_id == f.subject_id, r.regime_id == f.regime_id))
        .where(f.subject_kind == "system"),
        s.provider_id,
    )
    flags = pl.DataFrame(
        [tuple(r) for r in session.execute(flag_query).all()], orient="row",
        schema={"subject_key": pl.String, "regime_id": pl.String, "status": pl.String,
                "projected": pl.Boolean, "threshold": pl.Float64, "deadline": pl.Date,
                "regime_obligation": pl.String, "registration_state": pl.String, "registration_number": pl.String,
                "conditional": pl.Boolean, "unheld_conditions": pl.String, "tier": pl.String},
    )
    projected = est.filter(pl.col("kind") == "projected").select(
        "system_key", pl.col("central").alias("projected_flop_central"), pl.col("low").alias("projected_flop_low"),
        pl.col("high").alias("projected_flop_high"), pl.col("confidence").alias("projected_confidence"),
        pl.col("methods").str.split(",").list.filter(pl.element() != "").alias("projected_methods"),
    )
    joined = (systems.join(training, on="system_key", how="left").join(inference, on="system_key", how="left")
              .join(projected, on="system_key", how="left")
              .join(_latest_periods(session, scope), on="system_key", how="left"))
    joined = _projected_methods_from_runs(session, scope, joined)
    masked = confidential_lineage(session, scope)
    if masked:
        keys = pl.Series([str(i) for i in masked], dtype=pl.String).implode()
        own = est.filter(pl.col("kind") == "modification").select("system_key",
                                                                   pl.col("low").alias("own_training_flop_low"))
        joined = joined.join(own, on="system_key", how="left").with_columns(
            pl.col("system_key").is_in(keys).alias("masked"))
        hidden = pl.Series(sorted(lineage_regimes(session)), dtype=pl.String).implode()
        flags = flags.filter(~(pl.col("subject_key").is_in(keys) & pl.col("regime_id").is_in(hidden)))
    return build_report(joined, flags)


def _latest_periods(session: Session, scope: Scope) -> pl.DataFrame:
    """Each system's latest filed usage period (tracker.store.queries.system), as report columns."""
    from tracker.store.queries.system import latest_inference_periods

    latest = latest_inference_periods(session, scope, None)
    return pl.DataFrame(
        [(str(sid), r["central"], r["low"], r["high"], r["period_start"], r["period_end"])
         for sid, r in latest.items()],
        orient="row",
        schema={"system_key": pl.String, "inference_latest_central": pl.Float64, "inference_latest_low": pl.Float64,
                "inference_latest_high": pl.Float64, "inference_latest_period_start": pl.Date,
                "inference_latest_period_end": pl.Date},
    )


def _projected_methods_from_runs(session: Session, scope: Scope, joined: pl.DataFrame) -> pl.DataFrame:
    """The estimator leaves a projected estimate's methods empty; fill them from its runs
    (tracker.store.queries.system.projected_training reads them the same way)."""
    from tracker.store.queries.system import projected_training

    empty = joined.filter(pl.col("projected_flop_central").is_not_null()
                          & (pl.col("projected_methods").list.len() == 0))["system_key"].to_list()
    if not empty:
        return joined
    found = projected_training(session, scope, [int(k) for k in empty])
    fill = pl.DataFrame([(str(k), v["methods"]) for k, v in found.items()], orient="row",
                        schema={"system_key": pl.String, "run_methods": pl.List(pl.String)})
    return (joined.join(fill, on="system_key", how="left")
            .with_columns(pl.when(pl.col("run_methods").is_not_null()).then(pl.col("run_methods"))
                          .otherwise(pl.col("projected_methods")).alias("projected_methods"))
            .drop("run_methods"))
