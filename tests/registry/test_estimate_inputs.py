"""The runs an estimate rests on: stored once per system and write, read back on every kind."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tests.registry.factories import add_system_with_run
from tracker.auth.scope import SYSTEM_SCOPE
from tracker.registry.estimates import with_run_inputs
from tracker.registry.pipeline import run_evaluation
from tracker.store.models import AISystem, Estimate, Filing, TrainingRun
from tracker.store.queries.system import projected_training, system_detail

AS_OF = date(2026, 11, 27)


def _base_and_tune(engine: Engine) -> tuple[int, int]:
    base = add_system_with_run(
        engine, provider="meta", system="Base LM", accelerator="NVIDIA H100 SXM5", chip_hours=30.84e6,
        precision="bf16", parameters=405e9, training_tokens=15.6e12, reported_flop=3.8e25,
        end_date=date(2024, 7, 1))
    tuned = add_system_with_run(
        engine, provider="acme", system="Tuned LM", base_system_id=base, run_id="ft-1", stage="fine_tuning",
        accelerator="H100-SXM", accelerator_count=512, training_hours=240, precision="bf16", utilization=0.35,
        parameters=405e9, training_tokens=6e10)
    return base, tuned


def _add_run(engine: Engine, system_id: int, **run: Any) -> None:
    with Session(engine) as session:
        system = session.get(AISystem, system_id)
        assert system is not None
        filing = Filing(accession=f"TEST-EXTRA-{system_id:06d}", provider_id=system.provider_id,
                        kind="training_runs", status="accepted", sha256="1" * 64, filename="more.csv",
                        file_format="csv", size_bytes=1, channel="cli", filed_by="test", record_count=1)
        session.add(filing)
        session.flush()
        session.add(TrainingRun(filing_id=filing.id, provider_id=system.provider_id, system_id=system_id, **run))
        session.commit()


def _rows(engine: Engine, system_id: int) -> dict[str, list[Estimate]]:
    with Session(engine) as session:
        rows = session.exec(select(Estimate).where(Estimate.system_id == system_id).order_by(Estimate.id)).all()
    out: dict[str, list[Estimate]] = {}
    for row in rows:
        out.setdefault(row.kind, []).append(row)
    return out


def _run_keys(inputs: Any) -> list[str]:
    return sorted(str(run["run_key"]) for run in inputs["runs"])


def test_runs_are_stored_once_per_system_and_every_kind_reads_them(engine: Engine, settings_env: object) -> None:
    _, tuned = _base_and_tune(engine)
    run_evaluation(engine, AS_OF, actor="test")
    rows = _rows(engine, tuned)
    assert {"training", "modification"} <= set(rows)
    training = rows["training"][0]
    assert training.inputs_json is not None
    assert [r.inputs_json for kind, found in rows.items() if kind != "training" for r in found] == \
        [None] * sum(len(found) for kind, found in rows.items() if kind != "training")
    with Session(engine) as session:
        detail = system_detail(session, SYSTEM_SCOPE, tuned)
    assert detail is not None
    shown = {e["kind"]: e for e in detail["estimates"]}
    expected = json.loads(training.inputs_json)
    assert shown["modification"]["inputs"] == expected == shown["training"]["inputs"]
    assert shown["modification"]["per_method"] == shown["training"]["per_method"] != []


def test_a_kind_written_alone_carries_its_own_runs(engine: Engine, settings_env: object) -> None:
    """A later in-progress run changes only the projected figure: its row holds the runs as they are
    now, and the training row keeps the runs it was computed from."""
    base, _ = _base_and_tune(engine)
    run_evaluation(engine, AS_OF, actor="test")
    before = _rows(engine, base)
    _add_run(engine, base, run_id="next", stage="pretraining", status="in_progress",
             accelerator="NVIDIA B200", accelerator_count=50_000, training_hours=4344, precision="fp8",
             utilization=0.3, start_date=date(2026, 10, 1), end_date=date(2027, 3, 31))
    run_evaluation(engine, AS_OF, actor="test")
    after = _rows(engine, base)
    assert len(after["training"]) == len(before["training"]) == 1  # the training figure did not change
    assert len(after["projected"]) == len(before.get("projected", [])) + 1
    projected = after["projected"][-1]
    assert projected.is_current and projected.inputs_json is not None
    with Session(engine) as session:
        detail = system_detail(session, SYSTEM_SCOPE, base)
        planned = projected_training(session, SYSTEM_SCOPE, [base])
    assert detail is not None
    shown = {e["kind"]: e for e in detail["estimates"]}
    assert len(_run_keys(shown["projected"]["inputs"])) == 2
    assert len(_run_keys(shown["training"]["inputs"])) == 1
    assert planned[base]["methods"] == [m["method"] for m in shown["projected"]["per_method"]] != []


def test_with_run_inputs_puts_the_json_on_the_first_kind_written() -> None:
    rows = pl.DataFrame({"system_id": [1, 1, 2, 2], "kind": ["projected", "training", "projected", "inference_period"],
                         "inputs_json": [None, None, None, '{"requests": 3}']})
    runs = pl.DataFrame({"system_key": ["1", "2", "2"], "run_key": ["a", "b", "c"], "stage": ["p", "p", "f"],
                         "status": ["completed"] * 3, "hardware_flop_central": [1e24, 2e24, 3e24]})
    out = with_run_inputs(rows, runs)
    assert out.select("system_id", "kind").rows() == rows.select("system_id", "kind").rows()
    texts = out.get_column("inputs_json").to_list()
    assert texts[0] is None and texts[3] == '{"requests": 3}'
    assert _run_keys(json.loads(texts[1])) == ["a"]
    assert _run_keys(json.loads(texts[2])) == ["b", "c"]


def test_a_projected_row_without_methods_reads_them_from_the_runs_written_with_it(
        engine: Engine, settings_env: object) -> None:
    base, _ = _base_and_tune(engine)
    runs = {"runs": [{"run_key": "1", "hardware_flop_central": 2e25, "reported_flop_central": 3e25}]}
    at = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)
    common = {"system_id": base, "methodology_version": "test", "computed_at": at, "low_flop": 1e25,
              "high_flop": 4e25}
    with Session(engine) as session:
        session.add(Estimate(kind="training", central_flop=2.5e25, methods="hardware,reported",
                             inputs_json=json.dumps(runs), **common))
        session.add(Estimate(kind="projected", central_flop=5e25, methods="", **common))
        session.commit()
        planned = projected_training(session, SYSTEM_SCOPE, [base])
        detail = system_detail(session, SYSTEM_SCOPE, base)
    assert planned[base]["methods"] == ["hardware", "reported"]
    assert detail is not None
    shown = {e["kind"]: e for e in detail["estimates"]}
    assert shown["projected"]["inputs"] == runs and shown["projected"]["methods"] == ["hardware", "reported"]
