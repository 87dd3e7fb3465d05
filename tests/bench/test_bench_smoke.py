"""Smoke test of the benchmarks: tiny generators, the evaluate and store measurements run in-process
at a very small size, and the shape of the result JSON (contract §5). No timing assertions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from bench import common, generate
from bench import evaluate as evaluate_bench
from bench import nightly as nightly_bench
from bench import store as store_bench
from tracker.registry.inputs import RUN_SCHEMA, SYSTEM_SCHEMA

RUN_KEYS = {"size", "seconds_median", "baseline_seconds_median", "ratio", "peak_rss_mb"}


@pytest.fixture
def bench_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(common, "RESULTS_DIR", tmp_path / "results")
    monkeypatch.setattr(common, "WORK_DIR", tmp_path / "work")
    return tmp_path


def _timed_entry(size: int, ours: float, baseline: float) -> dict[str, object]:
    return {"size": size, "seconds_median": ours, "baseline_seconds_median": baseline,
            "ratio": ours / baseline, "peak_rss_mb": common.rss_mb()}


def _check_document(path: Path, name: str) -> None:
    document = json.loads(path.read_text())
    assert document["name"] == name
    assert set(document["machine"]) >= {"cpus", "python"}
    assert isinstance(document["meets_target"], bool)
    assert isinstance(document["target_ratio"], float)
    assert document["runs"]
    for run in document["runs"]:
        assert RUN_KEYS <= set(run)


def test_generators_are_deterministic_and_shaped_like_the_inputs() -> None:
    frames = generate.registry_frames(300)
    assert frames["systems"].schema == pl.Schema(SYSTEM_SCHEMA)
    assert frames["runs"].schema == pl.Schema(RUN_SCHEMA)
    assert frames["systems"].height == 300
    assert frames["runs"].height > 300
    assert frames["systems"].get_column("system_key").is_unique().all()
    assert generate.registry_frames(300)["runs"].equals(frames["runs"])
    usage = generate.usage_disclosure(7_000)
    identity = ["system", "version", "period_start", "period_end", "segment"]
    assert usage.height == 7_000 and usage.select(identity).is_unique().all()
    assert generate.estimate_rows(40, 10).height == 40
    flags = generate.flag_rows(60, ["a", "b", "c"])
    assert flags.select("subject_id", "regime_id").is_unique().all()


def test_evaluate_benchmark_runs_and_writes_contract_json(bench_dirs: Path) -> None:
    ctx = evaluate_bench.prepare(400)
    state = evaluate_bench.setup(ctx)
    ours = evaluate_bench.ours(state)
    baseline = evaluate_bench.baseline(state)
    assert ours["systems"] == 400 and ours["flags"] > 0
    assert baseline["flags"] > 0
    path = common.write_result("evaluate", [_timed_entry(400, 0.2, 0.1)], evaluate_bench.TARGET_RATIO, False)
    _check_document(path, "evaluate")


def test_store_benchmark_runs_on_sqlite_and_writes_contract_json(bench_dirs: Path) -> None:
    ctx = {**store_bench.prepare(200, postgres=False), "backend": "sqlite"}
    for variant in ("ours", "baseline"):
        state = store_bench.setup(ctx)
        out = getattr(store_bench, variant)(state)
        store_bench.teardown(state)
        assert out["rows"] == 200
    state = store_bench.setup({**ctx, "pipeline": True})
    assert store_bench.pipeline(state)["rows"] > 0
    store_bench.teardown(state)
    path = common.write_result("store", [_timed_entry(200, 0.3, 0.2)], store_bench.TARGET_RATIO, True)
    _check_document(path, "store")


def _row_counts(url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        counts = {t: int(conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one())
                  for t in nightly_bench._tables()}
    engine.dispose()
    return counts


@pytest.fixture
def nightly_databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The nightly benchmark's database and template under names of this test's own, dropped after."""
    if not common.pg_available():
        pytest.skip(f"PostgreSQL is needed at {common.PG_ADMIN_URL}")
    suffix = uuid.uuid4().hex[:8]
    monkeypatch.setattr(nightly_bench, "DATABASE", f"tracker_bench_nightly_test_{suffix}")
    monkeypatch.setattr(nightly_bench, "TEMPLATE", f"tracker_bench_nightly_test_filed_{suffix}")
    yield
    common.pg_drop(nightly_bench.DATABASE)
    common.pg_drop(nightly_bench.TEMPLATE)


@pytest.mark.usefixtures("nightly_databases")
def test_nightly_baseline_copies_exactly_the_rows_the_evaluation_wrote(bench_dirs: Path) -> None:
    ctx = nightly_bench.prepare(300)
    state = nightly_bench.setup(ctx)
    assert state["copies"] == []  # nothing to copy before ours has run
    ours = nightly_bench.ours(state)
    assert "evaluated 300 systems" in ours["summary"] and ours["flags"] > 0 and ours["alerts"] > 0
    written = _row_counts(state["url"])
    nightly_bench.teardown(state)  # dumps what ours wrote
    state = nightly_bench.setup(ctx)
    copied = nightly_bench.baseline(state)
    assert _row_counts(state["url"]) == written
    filed = {table: extent[0] for table, extent in ctx["filed"].items()}
    assert copied["rows"] == sum(written.values()) - sum(filed.values()) > 0
    nightly_bench.teardown(state)
    path = common.write_result("nightly", [_timed_entry(300, 2.0, 0.5)], None, False,
                               target_seconds=nightly_bench.TARGET_SECONDS)
    document = json.loads(path.read_text())
    assert document["target_ratio"] is None and RUN_KEYS <= set(document["runs"][0])


@pytest.mark.usefixtures("nightly_databases")
def test_nightly_template_is_reused_only_at_the_same_size(bench_dirs: Path) -> None:
    import sqlalchemy as sa

    url = common.pg_url(nightly_bench.TEMPLATE)

    def names() -> list[str]:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            found = [str(n) for n in conn.execute(sa.text("SELECT name FROM provider ORDER BY id")).scalars()]
        engine.dispose()
        return found

    def mark() -> None:
        engine = sa.create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE provider SET name = 'kept' WHERE id = (SELECT min(id) FROM provider)"))
        engine.dispose()

    assert nightly_bench.template_systems() is None
    nightly_bench.prepare(300)
    assert nightly_bench.template_systems() == 300
    mark()
    nightly_bench.prepare(300, reuse=True)  # same size: used as it is
    assert names()[0] == "kept"
    nightly_bench.prepare(200, reuse=True)  # another size: filled again
    assert nightly_bench.template_systems() == 200 and "kept" not in names()
    mark()
    nightly_bench.prepare(200)  # without reuse: always filled again
    assert "kept" not in names()


def test_nightly_steps_are_timed_with_cpu_and_memory(bench_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    for module_name, names in nightly_bench.STEPS:  # undone after the test
        module = importlib.import_module(module_name)
        for name in names:
            monkeypatch.setattr(module, name, getattr(module, name))
    lines: list[str] = []
    records = nightly_bench.time_steps(lines.append)
    from tracker.registry import pipeline

    inputs = generate.read_registry(generate.write_registry(common.work_dir("steps-test"), 50))
    from tracker.catalog.accelerators import load_catalog

    result = pipeline.compute_registry(inputs, load_catalog(), pipeline.default_regimes(), generate.AS_OF)
    assert result.systems.height == 50
    assert [r["step"] for r in records] == ["compute_registry"] and len(lines) == 1
    assert records[0]["peak_rss_mb"] >= records[0]["rss_mb"] > 0 and records[0]["client_cpu_s"] >= 0


def test_percentile_and_growth_helpers() -> None:
    assert common.percentile(range(1, 21), 95) == 19
    assert common.median([3.0, 1.0, 2.0]) == 2.0
    runs = [{"size": 10, "scale": 1, "seconds_median": 1.0}, {"size": 100, "scale": 10, "seconds_median": 12.0}]
    assert common.growth(runs) == {"x1": 1.0, "x10": 1.2}


def test_a_quick_check_says_its_ratios_are_not_judged_and_keeps_the_full_results(
        bench_dirs: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import run as run_bench

    monkeypatch.delenv("BENCH_RESULTS_DIR", raising=False)
    full = common.RESULTS_DIR
    measured: list[list[int]] = []

    def fake_run(scales: list[int], log: object = print) -> dict[str, object]:
        measured.append(scales)
        common.write_result("evaluate", [_timed_entry(10_000, 9.0, 1.0)], 2.0, False)
        return {"name": "evaluate"}

    monkeypatch.setattr(evaluate_bench, "run", fake_run)
    assert run_bench.main(["--quick", "--sizes", "1,10,100", "--only", "evaluate"]) == 0
    out = capsys.readouterr().out
    assert measured == [[1]]  # the smallest size whatever --sizes says
    assert out.count(run_bench.QUICK_NOTE) == 2 and "meets_target" not in out
    (row,) = [line for line in out.splitlines() if line.startswith("evaluate ")]
    columns = row.split()  # benchmark, size, ours, base, ratio, target, peak MB, met
    assert (columns[4], columns[5], columns[7]) == ("9.00", "-", "-")  # the ratio shown, no target and no verdict
    assert (bench_dirs / "work" / "quick-results" / "evaluate.json").is_file()
    assert not (full / "evaluate.json").exists()  # the full run's file is not overwritten
