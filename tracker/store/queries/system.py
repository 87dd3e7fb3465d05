"""One system: lineage, every method's estimate, filed inputs, flag history and alerts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from tracker.auth.scope import Scope
from tracker.store.models import (
    Alert,
    Discrepancy,
    Estimate,
    Flag,
    FlagEvent,
    InferenceUsage,
    TrainingRun,
)
from tracker.store.queries.common import (
    FE,
    FI,
    IU,
    METHODS,
    TR,
    A,
    E,
    F,
    P,
    R,
    Row,
    S,
    alert_row,
    as_date,
    as_number,
    method_list,
    model_dict,
    parse_json,
)
from tracker.store.queries.confidential import (
    confidential_lineage,
    lineage_regimes,
    mask_flag,
    mask_training_estimate,
)
from tracker.store.queries.regime_labels import regime_names

# Estimate kinds whose inputs are the system's runs: stored once per system and write, on one of
# the rows written together (tracker.registry.estimates.with_run_inputs); the others are read with it.
RUN_INPUT_KINDS = ("training", "modification", "projected", "inference_30d")


def shared_run_inputs(session: Session, rows: Iterable[tuple[int, str, datetime, str | None]]
                      ) -> dict[tuple[int, datetime], str]:
    """For estimate rows given as (system id, kind, computed_at, inputs_json) that share their runs'
    JSON with a row written with them, that JSON by (system id, computed_at)."""
    wanted = {(sid, at) for sid, kind, at, text in rows if text is None and kind in RUN_INPUT_KINDS}
    found: dict[tuple[int, datetime], str] = {}
    ids = sorted({sid for sid, _ in wanted})
    for start in range(0, len(ids), _CHUNK):
        part = ids[start:start + _CHUNK]
        in_part = set(part)
        times = sorted({at for sid, at in wanted if sid in in_part})
        q = sa.select(E.system_id, E.computed_at, E.inputs_json).where(
            E.system_id.in_(part), E.kind.in_(RUN_INPUT_KINDS), E.computed_at.in_(times),
            E.inputs_json.is_not(None))
        for sid, at, text in session.execute(q):
            if (sid, at) in wanted:
                found.setdefault((sid, at), text)
    return found


def estimate_methods(methods: Any, inputs_json: str | None) -> list[str]:
    """The methods an estimate rests on: as stored, else (the estimator leaves a projected row's
    empty) those its runs applied."""
    return method_list(methods) or [m["method"] for m in per_method(parse_json(inputs_json))]


def _estimate_row(e: Any, shared: Mapping[tuple[int, datetime], str]) -> Row:
    inputs = parse_json(e.inputs_json if e.inputs_json is not None else shared.get((e.system_id, e.computed_at)))
    methods = per_method(inputs)
    return {"kind": e.kind, "central": e.central_flop, "low": e.low_flop, "high": e.high_flop,
            # The estimator leaves a projected row's methods empty: its runs say which applied.
            "methods": method_list(e.methods) or [m["method"] for m in methods], "confidence": e.confidence,
            "computed_at": e.computed_at, "methodology_version": e.methodology_version, "per_method": methods,
            "inputs": inputs, "period_start": e.period_start, "period_end": e.period_end}

def per_method(inputs: Any) -> list[Row]:
    """Each method's own estimate from an estimate's ``inputs_json``.

    Accepted shapes: the registry pipeline's ``{"runs": [{"hardware_flop_central": .., ...}]}``
    (summed over the runs that have the method; no interval is stored there), or
    ``{"methods": {"hardware": {"central":..,"low":..,"high":..}}}``, ``{"hardware": {...}}`` and flat
    ``{"hardware_central": .., "hardware_low": .., ...}``."""
    if not isinstance(inputs, Mapping):
        return []
    runs = inputs.get("runs")
    if isinstance(runs, list):
        return _per_method_from_runs([r for r in runs if isinstance(r, Mapping)])
    methods = inputs.get("methods")
    nested: Mapping[str, Any] = methods if isinstance(methods, Mapping) else inputs
    out = []
    for method in METHODS:
        part = nested.get(method)
        source: Mapping[str, Any] = part if isinstance(part, Mapping) else {
            s: inputs.get(f"{method}_{s}") for s in ("central", "low", "high")}
        central, low, high = (as_number(source.get(s)) for s in ("central", "low", "high"))
        if central:
            out.append({"method": method, "central": central, "low": low, "high": high})
    return out

def _per_method_from_runs(runs: list[Mapping[str, Any]]) -> list[Row]:
    """Each method summed over the runs it applies to; its interval too when every such run
    carries one (bounds add, as the estimator's sums do)."""
    out = []
    for method in METHODS:
        applied = [r for r in runs if as_number(r.get(f"{method}_flop_central"))]
        if not applied:
            continue
        lows = [as_number(r.get(f"{method}_flop_low")) for r in applied]
        highs = [as_number(r.get(f"{method}_flop_high")) for r in applied]
        out.append({
            "method": method, "central": sum(as_number(r.get(f"{method}_flop_central")) or 0.0 for r in applied),
            "low": sum(v for v in lows if v) if all(lows) else None,
            "high": sum(v for v in highs if v) if all(highs) else None,
            "runs": len(applied), "of_runs": len(runs),
        })
    return out

def _system_header(session: Session, scope: Scope, system_id: int) -> Row | None:
    q = (sa.select(S.id, S.name, S.version, S.provider_id, S.base_system_id, S.modality, S.publication_date,
                   S.created_at, P.slug.label("provider"), P.name.label("provider_name"))
         .join(P, P.id == S.provider_id).where(S.id == system_id))
    row = session.execute(scope.restrict(q, S.provider_id)).first()
    return dict(row._mapping) if row else None

def _training_central(session: Session, system_ids: Iterable[int]) -> dict[int, float | None]:
    ids = list(system_ids)
    if not ids:
        return {}
    q = sa.select(E.system_id, E.central_flop).where(E.system_id.in_(ids), E.kind == "training",
                                                     E.is_current.is_(True))
    return {r[0]: r[1] for r in session.execute(q)}

def _lineage(session: Session, scope: Scope, system: Row, max_depth: int = 20) -> Row:
    """Base systems up the chain and systems derived from this one. A base system of another
    provider (outside the scope) is named only as such."""
    ancestors: list[Row] = []
    next_id = system["base_system_id"]
    while next_id is not None and len(ancestors) < max_depth:
        header = _system_header(session, scope, next_id)
        if header is None:
            ancestors.append({"id": None, "name": "a system of another provider", "visible": False})
            break
        ancestors.append({**header, "visible": True})
        next_id = header["base_system_id"]
    derived_q = scope.restrict(
        sa.select(S.id, S.name, S.version, P.slug.label("provider")).join(P, P.id == S.provider_id)
        .where(S.base_system_id == system["id"]).order_by(S.id).limit(200), S.provider_id)
    derived = [dict(r._mapping) for r in session.execute(derived_q)]
    related = [a["id"] for a in ancestors if a["id"]] + [d["id"] for d in derived]
    compute = _training_central(session, related)
    masked = confidential_lineage(session, scope, related)
    for entry in [*ancestors, *derived]:
        entry["training_flop"] = compute.get(entry["id"]) if entry.get("id") and entry["id"] not in masked else None
    return {"ancestors": ancestors, "derived": derived}

def system_detail(session: Session, scope: Scope, system_id: int) -> Row | None:
    """Everything the system page shows, or None when the system does not exist in this scope."""
    system = _system_header(session, scope, system_id)
    if system is None:
        return None
    estimates = session.execute(sa.select(Estimate).where(E.system_id == system_id, E.is_current.is_(True))
                                .order_by(E.kind)).scalars().all()
    history = session.execute(sa.select(Estimate).where(E.system_id == system_id, E.kind == "training")
                              .order_by(E.computed_at.desc()).limit(20)).scalars().all()
    runs_q = (sa.select(TrainingRun, FI.accession).join(FI, FI.id == TR.filing_id)
              .where(TR.system_id == system_id).order_by(TR.is_current.desc(), TR.start_date, TR.id))
    runs = [{**model_dict(run), "accession": acc}
            for run, acc in session.execute(scope.restrict(runs_q, FI.provider_id))]
    usage_q = (sa.select(InferenceUsage, FI.accession).join(FI, FI.id == IU.filing_id)
               .where(IU.system_id == system_id).order_by(IU.period_start.desc(), IU.id).limit(200))
    usage = [{**model_dict(u), "accession": acc}
             for u, acc in session.execute(scope.restrict(usage_q, FI.provider_id))]
    flags_q = (sa.select(Flag, R.obligation, R.state, R.jurisdiction, R.metric)
               .join(R, R.id == F.regime_id)
               .where(F.subject_kind == "system", F.subject_id == system_id).order_by(F.regime_id))
    names = regime_names(session)
    flags = [{**model_dict(f), "obligation": ob, "regime_state": st, "jurisdiction": j, "metric": m,
              "regime_name": names.get(f.regime_id, f.regime_id)}
             for f, ob, st, j, m in session.execute(flags_q)]
    # Each event with its regime's metric, so a ratio is not written as compute.
    events_q = (sa.select(FlagEvent, R.metric).outerjoin(R, R.id == FE.regime_id)
                .where(FE.subject_kind == "system", FE.subject_id == system_id)
                .order_by(FE.changed_on, FE.recorded_at, FE.id))
    events = [{**model_dict(e), "metric": metric, "regime_name": names.get(e.regime_id, e.regime_id)}
              for e, metric in session.execute(events_q)]
    alerts_q = scope.restrict(sa.select(Alert).where(A.system_id == system_id)
                              .order_by(A.created_at.desc()).limit(100), A.provider_id)
    alerts = [{**alert_row(a, system["provider"], system["name"]),
               "regime_name": names.get(a.regime_id, a.regime_id) if a.regime_id else None}
              for a in session.execute(alerts_q).scalars()]
    discrepancies = [model_dict(d) for d in session.execute(
        sa.select(Discrepancy).where(Discrepancy.system_id == system_id)  # type: ignore[arg-type]
        .order_by(Discrepancy.detected_at.desc())).scalars()]  # type: ignore[attr-defined]
    shared = shared_run_inputs(session, [(e.system_id, e.kind, e.computed_at, e.inputs_json)
                                         for e in [*estimates, *history]])
    detail = {
        "system": system, "lineage": _lineage(session, scope, system),
        "estimates": [_estimate_row(e, shared) for e in estimates],
        "training_history": [_estimate_row(e, shared) for e in history],
        "runs": runs, "inference_usage": usage, "flags": flags, "flag_history": events,
        "latest_inference": latest_inference_periods(session, scope, [system_id]).get(system_id),
        "alerts": alerts, "discrepancies": discrepancies,
    }
    if system_id in confidential_lineage(session, scope, [system_id]):
        return _masked_detail(session, detail)
    return detail


def _masked_detail(session: Session, detail: Row) -> Row:
    """The page of a system whose lineage holds another provider's confidential compute, as its
    own provider may read it (tracker.store.queries.confidential)."""
    own = next((e for e in detail["estimates"] if e["kind"] == "modification"), None)
    estimates = [mask_training_estimate(e, own) if e["kind"] == "training" else e
                 for e in detail["estimates"] if e["kind"] != "projected"]
    history = [mask_training_estimate(e, None) for e in detail["training_history"]]
    hidden = lineage_regimes(session)
    return {**detail, "estimates": estimates, "training_history": history,
            "flags": [mask_flag(f) for f in detail["flags"]],
            # An event of no regime (a first evaluation) summarises all regimes, the hidden ones too.
            "flag_history": [e for e in detail["flag_history"]
                             if e.get("regime_id") is not None and e["regime_id"] not in hidden],
            # Alerts and discrepancies about the cumulative figure would carry it.
            "alerts": [a for a in detail["alerts"]
                       if a.get("regime_id") not in hidden and a.get("kind") != "discrepancy"],
            "discrepancies": [], "masked": True}


_CHUNK = 1000


def latest_inference_periods(session: Session, scope: Scope, system_ids: Iterable[int] | None) -> dict[int, Row]:
    """Each system's latest filed usage period with its inference estimate (``central``, ``low``,
    ``high`` FLOP in that period, ``period_start``, ``period_end``), among ``system_ids`` (None: every
    system in the scope); systems with none are absent. What views show when the current 30-day
    figure is empty because the usage on file is older than 30 days. Inference is the system's own
    usage: no lineage masking applies."""
    out: dict[int, Row] = {}
    parts: list[list[int] | None] = [None]
    if system_ids is not None:
        ids = sorted(set(system_ids))
        parts = [ids[start:start + _CHUNK] for start in range(0, len(ids), _CHUNK)]
    current = sa.and_(E.kind == "inference_period", E.is_current.is_(True), E.central_flop.is_not(None))
    for part in parts:
        newest = sa.select(E.system_id, sa.func.max(E.period_end).label("period_end")).where(current)
        if part is not None:
            newest = newest.where(E.system_id.in_(part))
        latest = newest.group_by(E.system_id).subquery()
        q = (sa.select(E.system_id, E.central_flop, E.low_flop, E.high_flop, E.period_start, E.period_end)
             .join(latest, sa.and_(latest.c.system_id == E.system_id, latest.c.period_end == E.period_end))
             .join(S, S.id == E.system_id).where(current)
             .order_by(E.system_id, E.period_start.desc(), E.id.desc()))
        for sid, central, low, high, period_start, period_end in session.execute(scope.restrict(q, S.provider_id)):
            out.setdefault(sid, {"central": central, "low": low, "high": high,
                                 "period_start": as_date(period_start), "period_end": as_date(period_end)})
    return out


def projected_training(session: Session, scope: Scope, system_ids: Iterable[int]) -> dict[int, Row]:
    """Each system's current projected training estimate (planned and in-progress runs counted:
    ``central``, ``low``, ``high`` FLOP, ``methods``, ``confidence``), within the scope. A system
    whose lineage holds another provider's confidential compute has none in that provider's scope
    (tracker.store.queries.confidential: the projected estimate is withheld)."""
    ids = sorted(set(system_ids))
    masked = confidential_lineage(session, scope, ids)
    out: dict[int, Row] = {}
    for start in range(0, len(ids), _CHUNK):
        part = [i for i in ids[start:start + _CHUNK] if i not in masked]
        if not part:
            continue
        q = (sa.select(E.system_id, E.central_flop, E.low_flop, E.high_flop, E.methods, E.confidence,
                       E.inputs_json, E.computed_at)
             .join(S, S.id == E.system_id)
             .where(E.system_id.in_(part), E.kind == "projected", E.is_current.is_(True),
                    E.central_flop.is_not(None)))
        found = session.execute(scope.restrict(q, S.provider_id)).all()
        shared = shared_run_inputs(session, [(r[0], "projected", r[7], r[6]) for r in found if not method_list(r[4])])
        for sid, central, low, high, methods, confidence, inputs, at in found:
            out[sid] = {"central": central, "low": low, "high": high, "confidence": confidence,
                        "methods": estimate_methods(methods, inputs or shared.get((sid, at)))}
    return out
