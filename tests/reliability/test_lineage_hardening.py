"""A lineage cycle planted in the database (around filing, which refuses them) must not stop the
registry's evaluation: the cyclic systems are set aside with the reason, every other provider is
evaluated, and the operators get one alert per cycle (docs/reliability.md)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.filing.receipts import Receipt
from tracker.filing.service import file_disclosure
from tracker.registry.pipeline import evaluate_after_filings, run_evaluation
from tracker.store.models import AISystem, Alert, Estimate, Flag, TrainingRun

AS_OF = date(2026, 11, 27)
EU = "eu-aia-gpaisr-presumption"


def _file(engine: Engine, provider: str, rows: str) -> None:
    outcome = file_disclosure(engine, content=("system,run_id,base_system,reported_flop,end_date\n" + rows).encode(),
                              filename="runs.csv", kind="training_runs", provider_slug=provider,
                              filed_by="test", channel="cli")
    assert isinstance(outcome, Receipt), outcome


def _ids(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {s.name: s.id for s in session.exec(select(AISystem)).all() if s.id is not None}


def _plant_cycle(engine: Engine) -> None:
    """loop-a's base is loop-b and loop-b's is loop-a, as a bad migration or a direct write would
    leave them: both the system records and the runs' declared bases."""
    ids = _ids(engine)
    with Session(engine) as session, session.begin():
        for name, base in (("loop-a", "loop-b"), ("loop-b", "loop-a")):
            system = session.get(AISystem, ids[name])
            assert system is not None
            system.base_system_id = ids[base]
            for run in session.exec(select(TrainingRun).where(TrainingRun.system_id == ids[name])).all():
                run.base_system_id = ids[base]


def _eu_flags(engine: Engine) -> dict[str, tuple[str, str | None]]:
    ids = {v: k for k, v in _ids(engine).items()}
    with Session(engine) as session:
        flags = session.exec(select(Flag).where(Flag.regime_id == EU, Flag.subject_kind == "system")).all()
        return {ids[f.subject_id]: (f.status, f.reason) for f in flags}


def _training(engine: Engine) -> dict[str, float]:
    ids = {v: k for k, v in _ids(engine).items()}
    with Session(engine) as session:
        rows = session.exec(select(Estimate).where(Estimate.kind == "training", Estimate.is_current)).all()
        return {ids[e.system_id]: e.central_flop for e in rows if e.central_flop is not None}


def _problem_alerts(engine: Engine) -> list[dict[str, object]]:
    with Session(engine) as session:
        alerts = session.exec(select(Alert).where(Alert.kind == "evaluation_problem")).all()
        return [json.loads(a.payload_json) | {"provider_id": a.provider_id} for a in alerts]


def _seed(engine: Engine) -> None:
    _file(engine, "alpha", "loop-a,a1,,3e25,2025-06-01\nloop-b,b1,,2e25,2025-06-01\nchild,c1,loop-a,1e22,2025-07-01\n")
    _file(engine, "beta", "frontier,f1,,5e25,2025-06-01\nsmall,s1,,1e22,2025-06-01\n")


def _check_set_aside(engine: Engine) -> None:
    flags = _eu_flags(engine)
    assert flags["frontier"][0] == "above" and flags["small"][0] == "below"
    assert flags["loop-a"] == ("unknown", "lineage cycle: loop-a -> loop-b -> loop-a")
    assert flags["loop-b"] == ("unknown", "lineage cycle: loop-a -> loop-b -> loop-a")
    assert flags["child"] == ("unknown", "base lineage has a lineage cycle: loop-a -> loop-b -> loop-a")
    training = _training(engine)
    assert training["frontier"] == pytest.approx(5e25, rel=0.01)
    assert not {"loop-a", "loop-b", "child"} & set(training)
    alerts = _problem_alerts(engine)
    assert len(alerts) == 1
    assert alerts[0]["cycle"] == "lineage cycle: alpha/loop-a -> alpha/loop-b -> alpha/loop-a"
    assert alerts[0]["systems_set_aside"] == 3 and alerts[0]["provider_id"] is None  # to the operators


def test_run_evaluation_sets_a_planted_cycle_aside_and_evaluates_everyone_else(engine: Engine,
                                                                               settings_env: object) -> None:
    _seed(engine)
    _plant_cycle(engine)
    summary = run_evaluation(engine, AS_OF, actor="test")
    assert summary.set_aside == 3 and "3 systems set aside (lineage cycle)" in summary.line()
    _check_set_aside(engine)
    again = run_evaluation(engine, AS_OF, actor="test")  # idempotent: the cycle is alerted once
    assert again.alerts == 0 and again.flags_written == 0
    assert len(_problem_alerts(engine)) == 1


def test_evaluate_after_filings_survives_a_planted_cycle(engine: Engine, settings_env: object) -> None:
    _seed(engine)
    # Enough unrelated systems that the filings' subset stays below a quarter of the registry.
    _file(engine, "gamma", "".join(f"g{n},g{n}-r,,1e21,2025-06-01\n" for n in range(16)))
    run_evaluation(engine, AS_OF, actor="test")  # the baseline, before the cycle
    _plant_cycle(engine)
    # A filing touching the cycle (loop-b's run re-filed without a base: filing would refuse one
    # closing the loop), the cycle planted again on the new run, and a filing by another provider.
    _file(engine, "alpha", "loop-b,b1,,2e25,2025-06-02\n")
    _plant_cycle(engine)
    _file(engine, "beta", "newcomer,n1,,4e25,2025-06-01\n")
    summary = evaluate_after_filings(engine, AS_OF, actor="test")
    assert summary.scope == "filings" and summary.set_aside == 3
    assert _eu_flags(engine)["newcomer"][0] == "above"
    _check_set_aside(engine)
