"""Evaluating only what a filing changed leaves the store exactly as a whole-registry run would.

Two databases receive the same filings through the real filing service. After each step, one
(``incremental``) runs ``evaluate_after_filings``, the other (``reference``) ``run_evaluation``
over the whole registry; their current estimates, flags, per-system statuses, flag history,
discrepancies and alert keys must then be equal. The registry has lineage chains, fine-tunes by
other providers, in-progress runs, runs moved between systems, inference usage and clusters; a
fixed scenario covers each case by name, and a property test draws random filing sequences. Both
run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from tracker.config import Settings
from tracker.filing.receipts import Receipt
from tracker.filing.service import file_disclosure
from tracker.regimes.load import parse_regimes
from tracker.regimes.model import Regime
from tracker.registry import pipeline
from tracker.registry.pipeline import EvaluationSummary, default_regimes, evaluate_after_filings, run_evaluation
from tracker.store.db import make_engine
from tracker.store.migrate import upgrade
from tracker.store.models import Alert, Discrepancy, Estimate, Flag, FlagEvent, columns

AS_OF = date(2026, 11, 27)
RUN_HEADER = ("system,version,run_id,stage,base_system,status,accelerator,accelerator_count,training_hours,"
              "chip_hours,start_date,end_date,precision,utilization,parameters,active_parameters,"
              "training_tokens,reported_flop,notes")
USAGE_HEADER = ("system,version,period_start,period_end,input_tokens,output_tokens,requests,mean_context_tokens,"
                "accelerator,accelerator_hours,utilization")
CLUSTER_HEADER = "cluster_id,site,accelerator,accelerator_count,interconnect_gbps,operational_from"
PROVIDERS = ("alpha", "beta", "gamma")
# Chips x hours on H100 at 40%: ~1e21, ~3e24, ~5e25 and ~3e26 FLOP, so runs land on both sides
# of the 1e25 and 1e26 thresholds and re-filings move systems across them.
SIZES = ((8, 100.0), (4096, 600.0), (16384, 2000.0), (100_000, 2000.0))
CLUSTER_SIZES = (1000, 120_000)


def custom_regimes() -> list[Regime]:
    """Two custom regimes beside the shipped ones: served inference compute, and a share of a
    fixed largest run (with a fixed reference the subset evaluation stays exact)."""
    base = {"jurisdiction": "XX", "instrument": "test notice", "status": {"state": "in_force"},
            "subject": "AI system", "obligation": "notify", "alerts": True}
    return [*default_regimes(), *parse_regimes([
        {**base, "id": "xx-inference", "metric": "inference_flop_30d", "comparator": "gt", "threshold": 1e23},
        {**base, "id": "xx-relative", "metric": "relative_to_largest_run", "comparator": "gte",
         "threshold": 0.1, "reference_flop": 1e26},
    ])]


# --- The two databases ------------------------------------------------------------------------


@dataclass
class Twins:
    incremental: Engine
    reference: Engine
    reset: Callable[[], None]
    settings: Settings

    def both(self) -> tuple[Engine, Engine]:
        return self.incremental, self.reference


@pytest.fixture
def twins(db_url: str, request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Twins]:
    # Small registries: a filing reaches a large share of them, and the pipeline would rightly
    # evaluate everything; here the subset path must run every time.
    monkeypatch.setattr(pipeline, "WHOLE_REGISTRY_SHARE", 1.0)
    if db_url.startswith("sqlite"):
        template: Path = request.getfixturevalue("_sqlite_template")
        paths = (tmp_path / "incremental.db", tmp_path / "reference.db")
        engines: list[Engine] = []

        def reset() -> None:
            for engine in engines:
                engine.dispose()
            for path in paths:
                shutil.copyfile(template, path)

        reset()
        engines.extend(make_engine(f"sqlite:///{path}") for path in paths)
    else:
        other: str = request.getfixturevalue("empty_postgres_url")
        upgrade(other)
        engines = [make_engine(db_url), make_engine(other)]

        def reset() -> None:
            names = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            for engine in engines:
                with engine.begin() as conn:
                    conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))

    settings = Settings(database_url=db_url, environment="test", base_url="https://tracker.example")
    yield Twins(engines[0], engines[1], reset, settings)
    for engine in engines:
        engine.dispose()


# --- Filing through the real service ----------------------------------------------------------


@dataclass
class Model:
    """What has been filed, so generated filings refer to real systems, runs and clusters."""

    systems: list[tuple[str, str]] = field(default_factory=list)  # (provider, name) in creation order
    runs: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # provider -> [(run_id, system)]
    clusters: dict[str, list[str]] = field(default_factory=dict)  # provider -> cluster ids
    filed: int = 0

    def owner(self, name: str) -> str:
        return next(p for p, n in self.systems if n == name)


def _file(twins: Twins, model: Model, provider: str, kind: str, header: str, rows: list[str]) -> None:
    model.filed += 1
    content = (header + "\n" + "\n".join(rows) + "\n").encode()
    for engine in twins.both():
        outcome = file_disclosure(engine, content=content, filename=f"step-{model.filed}.csv", kind=kind,
                                  provider_slug=provider, filed_by="test", channel="cli")
        assert isinstance(outcome, Receipt), outcome  # a duplicate (the same usage again) is accepted too


def run_row(system: str, run_id: str, size: int, *, base: str | None = None, in_progress: bool = False,
            reported_factor: float | None = None, note: str = "") -> str:
    chips, hours = SIZES[size]
    flop = chips * hours * 3600 * 989e12 * 0.4
    status, start, end = (("in_progress", AS_OF - timedelta(days=20), AS_OF + timedelta(days=60)) if in_progress
                          else ("completed", date(2026, 3, 1), date(2026, 5, 1) + timedelta(days=size)))
    reported = f"{flop * reported_factor:.6e}" if reported_factor else ""
    stage = "fine_tuning" if base else "pretraining"
    return (f"{system},,{run_id},{stage},{base or ''},{status},NVIDIA H100 SXM5,{chips},{hours},,{start},{end},"
            f"bf16,0.4,70000000000,,{flop / 6 / 7e10:.6e},{reported},{note}")


def train(twins: Twins, model: Model, provider: str, system: str, run_id: str, size: int, **kw: Any) -> None:
    base = kw.get("base")
    if base and model.owner(base) != provider:  # another provider's base must have public figures
        from tracker.filing.systems import publish_figures

        for engine in twins.both():
            with Session(engine) as session, session.begin():
                publish_figures(session, provider_slug=model.owner(base), reference=base, actor="test")
    if (provider, system) not in model.systems:
        model.systems.append((provider, system))
    runs = model.runs.setdefault(provider, [])
    runs[:] = [(r, s) for r, s in runs if r != run_id] + [(run_id, system)]
    _file(twins, model, provider, "training_runs", RUN_HEADER,
          [run_row(system, run_id, size, note=f"filing {model.filed + 1}", **kw)])


def usage(twins: Twins, model: Model, system: str, month: int, scale: float) -> None:
    start = date(2026, 8 + month, 1)
    end = date(2026, 9 + month, 1) - timedelta(days=1)
    row = f"{system},,{start},{end},{4e12 * scale:.6e},{1e12 * scale:.6e},{2e9 * scale:.6e},2000,,,"
    _file(twins, model, model.owner(system), "inference_usage", USAGE_HEADER, [row])


def cluster(twins: Twins, model: Model, provider: str, cluster_id: str, size: int) -> None:
    ids = model.clusters.setdefault(provider, [])
    if cluster_id not in ids:
        ids.append(cluster_id)
    _file(twins, model, provider, "clusters", CLUSTER_HEADER,
          [f"{cluster_id},site,NVIDIA H100 SXM5,{CLUSTER_SIZES[size]},400,2026-01-01"])


# --- Comparing the two stores -----------------------------------------------------------------


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-9 * max(abs(a), abs(b))
    return bool(a == b)


def _rows(engine: Engine, query: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return sorted((tuple(r) for r in conn.execute(query).all()), key=repr)


def _inputs(text: str | None) -> Any:
    """The runs an estimate rests on, in run order (group order is not part of the result)."""
    if text is None:
        return None
    document = json.loads(text)
    if isinstance(document, dict) and isinstance(document.get("runs"), list):
        document["runs"] = sorted(document["runs"], key=lambda run: str(run.get("run_key")))
    return document


def store_state(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Everything an evaluation decides, without row ids and clock times."""
    e, f = columns(Estimate), columns(Flag)
    h, d, a = columns(FlagEvent), columns(Discrepancy), columns(Alert)
    estimates = [(*row[:-1], json.dumps(_inputs(row[-1]), sort_keys=True)) for row in _rows(engine, sa.select(
        e.system_id, e.kind, e.period_start, e.period_end, e.central_flop, e.low_flop, e.high_flop, e.methods,
        e.confidence, e.methodology_version, e.inputs_json).where(e.is_current))]
    return {
        "estimates": sorted(estimates, key=lambda r: repr(r[:4])),
        "flags": _rows(engine, sa.select(
            f.subject_kind, f.subject_id, f.regime_id, f.status, f.projected, f.value_central, f.value_low,
            f.value_high, f.threshold, f.crossed_on, f.first_flagged_on, f.deadline, f.reason, f.notified_at)),
        # The views' per-system summaries, whatever columns they carry (minus the write time).
        **{table.name: _rows(engine, sa.select(*[c for c in table.c if c.name != "updated_at"]))
           for table in SQLModel.metadata.sorted_tables if table.name in ("system_status", "system_crossing")},
        "history": _rows(engine, sa.select(h.subject_kind, h.subject_id, h.regime_id, h.old_status, h.new_status,
                                           h.old_projected, h.new_projected, h.value_central, h.changed_on)),
        "discrepancies": _rows(engine, sa.select(d.system_id, d.source, d.reported_flop, d.ratio, d.is_open)),
        "alerts": _rows(engine, sa.select(a.idempotency_key, a.kind, a.system_id, a.regime_id)),
    }


def assert_same_store(twins: Twins) -> None:
    ours, reference = store_state(twins.incremental), store_state(twins.reference)
    for table, rows in reference.items():
        mine = ours[table]
        assert len(mine) == len(rows), f"{table}: {len(mine)} rows after the subset run, {len(rows)} after the whole"
        for left, right in zip(mine, rows, strict=True):
            assert len(left) == len(right) and all(_close(x, y) for x, y in zip(left, right, strict=True)), (
                f"{table} differs:\n  subset: {left}\n  whole:  {right}")


def evaluate_both(twins: Twins, regimes: list[Regime], as_of: date = AS_OF,
                  expect_scope: str = "filings") -> EvaluationSummary:
    summary = evaluate_after_filings(twins.incremental, as_of, "test", regimes=regimes, settings=twins.settings)
    run_evaluation(twins.reference, as_of, "test", regimes=regimes, settings=twins.settings)
    assert summary.scope == expect_scope
    assert_same_store(twins)
    return summary


# --- A fixed scenario: every case by name ------------------------------------------------------


def seed(twins: Twins, model: Model) -> None:
    """alpha's frontier model with a chain of its own fine-tunes, beta's fine-tune of alpha's chat
    model and a fine-tune of that, small independent systems (one misreporting), usage, clusters."""
    train(twins, model, "alpha", "a-base", "a-pre", 2)
    train(twins, model, "alpha", "a-chat", "a-chat-ft", 0, base="a-base")
    train(twins, model, "alpha", "a-chat-2", "a-chat-2-ft", 0, base="a-chat")
    train(twins, model, "beta", "b-law", "b-law-ft", 1, base="a-chat")
    train(twins, model, "beta", "b-law-2", "b-law-2-ft", 0, base="b-law")
    train(twins, model, "gamma", "g-small", "g-small-pre", 0, reported_factor=10.0)
    train(twins, model, "gamma", "g-mid", "g-mid-pre", 1)
    train(twins, model, "gamma", "g-next", "g-next-pre", 3, in_progress=True)
    usage(twins, model, "a-chat", 0, 1.0)
    usage(twins, model, "g-mid", 0, 1.0)
    cluster(twins, model, "alpha", "a-east", 0)


def test_the_first_evaluation_and_a_new_day_evaluate_the_whole_registry(twins: Twins) -> None:
    twins.reset()
    model = Model()
    regimes = custom_regimes()
    seed(twins, model)
    evaluate_both(twins, regimes, expect_scope="registry")  # no earlier evaluation: no baseline
    train(twins, model, "gamma", "g-new", "g-new-pre", 2)
    evaluate_both(twins, regimes)
    train(twins, model, "gamma", "g-newer", "g-newer-pre", 3)
    # The next day's dates (crossings, deadlines, the projection's rate) differ for every system.
    evaluate_both(twins, regimes, as_of=AS_OF + timedelta(days=1), expect_scope="registry")
    train(twins, model, "gamma", "g-newest", "g-newest-pre", 1)
    evaluate_both(twins, regimes, as_of=AS_OF + timedelta(days=1))


def test_each_kind_of_filing_evaluated_alone_matches_the_whole_registry(twins: Twins) -> None:
    twins.reset()
    model = Model()
    regimes = custom_regimes()
    seed(twins, model)
    evaluate_both(twins, regimes, expect_scope="registry")

    # A new system crossing both thresholds: one subject, its flags, its alert.
    train(twins, model, "gamma", "g-new", "g-new-pre", 3)
    summary = evaluate_both(twins, regimes)
    assert summary.systems == 1 and summary.alerts >= 1

    # Re-filing the root of the chain: every descendant's cumulative compute changes, including
    # beta's fine-tunes of alpha's model (downstream modifiers).
    train(twins, model, "alpha", "a-base", "a-pre", 3)
    summary = evaluate_both(twins, regimes)
    assert summary.systems == 5 and summary.estimates_written > 0

    # A fine-tune of a fine-tune by a third provider; its base named across providers.
    train(twins, model, "gamma", "g-law-3", "g-law-3-ft", 1, base="b-law-2")
    assert evaluate_both(twins, regimes).systems == 1

    # The lineage moves: b-law now starts from a-base directly.
    train(twins, model, "beta", "b-law", "b-law-ft", 1, base="a-base")
    assert evaluate_both(twins, regimes).systems == 3  # b-law, b-law-2, g-law-3

    # A run re-filed under another system of the same provider: both systems change.
    train(twins, model, "gamma", "g-mid", "g-small-pre", 2)
    assert evaluate_both(twins, regimes).systems == 2

    # Usage: a new period and a re-filed one (supersedes); inference figures and the xx-inference flag.
    usage(twins, model, "b-law", 1, 100.0)
    usage(twins, model, "a-chat", 0, 1000.0)
    assert evaluate_both(twins, regimes).systems == 5  # b-law's subtree (3) and a-chat's (a-chat, a-chat-2)
    # Clusters: a new one above the cluster thresholds, and a re-filed one (a new subject).
    cluster(twins, model, "beta", "b-west", 1)
    cluster(twins, model, "alpha", "a-east", 1)
    summary = evaluate_both(twins, regimes)
    assert summary.systems == 0 and summary.clusters == 2

    # Several filings between two evaluations: the watermark covers them all.
    train(twins, model, "alpha", "a-chat-2", "a-chat-2-ft", 2, base="a-chat", in_progress=True)
    train(twins, model, "gamma", "g-next", "g-next-pre", 1)
    evaluate_both(twins, regimes)

    # Nothing filed since: nothing evaluated, nothing written.
    summary = evaluate_after_filings(twins.incremental, AS_OF, "test", regimes=regimes, settings=twins.settings)
    assert summary.systems == 0 and summary.flags_written == 0
    assert_same_store(twins)


def test_a_regime_ranking_against_the_whole_registry_evaluates_it_whole(twins: Twins) -> None:
    twins.reset()
    model = Model()
    relative = parse_regimes([{
        "id": "xx-largest", "jurisdiction": "XX", "instrument": "test notice", "status": {"state": "in_force"},
        "subject": "AI system", "obligation": "notify", "metric": "relative_to_largest_run", "comparator": "gte",
        "threshold": 0.5}])
    regimes = [*default_regimes(), *relative]
    seed(twins, model)
    evaluate_both(twins, regimes, expect_scope="registry")
    # The new system is the largest: every other system's share of it changes.
    train(twins, model, "gamma", "g-giant", "g-giant-pre", 3)
    evaluate_both(twins, regimes, expect_scope="registry")


# --- Random filing sequences ------------------------------------------------------------------

ACTIONS = st.one_of(
    st.tuples(st.just("train"), st.integers(0, 2), st.integers(0, 50), st.none() | st.integers(0, 50),
              st.integers(0, 3), st.booleans(), st.sampled_from([None, 1.0, 5.0])),
    st.tuples(st.just("refile"), st.integers(0, 50), st.integers(0, 3), st.none() | st.integers(0, 50)),
    st.tuples(st.just("move"), st.integers(0, 2), st.integers(0, 50), st.integers(0, 50)),
    st.tuples(st.just("usage"), st.integers(0, 50), st.integers(0, 2), st.sampled_from([1.0, 1000.0])),
    st.tuples(st.just("cluster"), st.integers(0, 2), st.integers(0, 2), st.integers(0, 1)),
)


def apply(twins: Twins, model: Model, action: tuple[Any, ...]) -> None:
    """Interpret a drawn action against what has been filed (indexes wrap), always a valid filing.
    Bases are always older systems, so lineage never loops."""
    kind = action[0]
    if kind == "train":
        _, p, which, base_pick, size, in_progress, factor = action
        provider = PROVIDERS[p]
        own = [n for q, n in model.systems if q == provider]
        new = which % (len(own) + 1) == len(own)
        name = f"{provider[0]}-{len(model.systems)}" if new else own[which % len(own)]
        position = len(model.systems) if new else model.systems.index((provider, name))
        older = [n for _, n in model.systems[:position]]
        base = older[base_pick % len(older)] if base_pick is not None and older else None
        train(twins, model, provider, name, f"{name}-run-{model.filed}", size, base=base, in_progress=in_progress,
              reported_factor=factor)
    elif kind == "refile" and model.runs:
        _, pick, size, base_pick = action
        every = [(p, run_id, system) for p, runs in sorted(model.runs.items()) for run_id, system in runs]
        provider, run_id, system = every[pick % len(every)]
        position = model.systems.index((provider, system))
        older = [n for _, n in model.systems[:position]]
        base = older[base_pick % len(older)] if base_pick is not None and older else None
        train(twins, model, provider, system, run_id, size, base=base)
    elif kind == "move":
        _, p, run_pick, to_pick = action
        provider = PROVIDERS[p]
        runs, own = model.runs.get(provider, []), [n for q, n in model.systems if q == provider]
        if runs and len(own) > 1:
            run_id, _ = runs[run_pick % len(runs)]
            train(twins, model, provider, own[to_pick % len(own)], run_id, 1)
    elif kind == "usage" and model.systems:
        _, pick, month, scale = action
        usage(twins, model, model.systems[pick % len(model.systems)][1], month, scale)
    elif kind == "cluster":
        _, p, pick, size = action
        provider = PROVIDERS[p]
        ids = model.clusters.get(provider, [])
        cluster_id = ids[pick % len(ids)] if ids and pick < 2 else f"{provider}-c{len(ids)}"
        cluster(twins, model, provider, cluster_id, size)


# Each example files through two databases: few examples, fixed seed, and no shrinking (a failure
# prints its whole filing sequence, which is short, and shrinking one costs minutes).
@hypothesis_settings(max_examples=6, deadline=None, derandomize=True, database=None,
                     phases=[Phase.explicit, Phase.reuse, Phase.generate],
                     suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(st.lists(ACTIONS, min_size=1, max_size=3), min_size=2, max_size=4))
def test_random_filing_sequences_leave_the_same_store(twins: Twins, steps: list[list[tuple[Any, ...]]]) -> None:
    twins.reset()
    model = Model()
    regimes = custom_regimes()
    seed(twins, model)
    evaluate_both(twins, regimes, expect_scope="registry")
    for step in steps:
        for action in step:
            apply(twins, model, action)
        evaluate_both(twins, regimes)
