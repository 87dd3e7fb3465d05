"""Synthetic but realistic registry data for the benchmarks, generated with a fixed seed.

Shapes follow what providers file (contract §1) and what the store holds:

* ``registry_frames(n)``: the frames ``compute_registry`` takes (``tracker.registry.inputs``):
  ~15% of systems are fine-tunes of an earlier system (a third of those by another provider:
  downstream modifiers), ~1.3 runs per system (pretraining, then post-training or fine-tuning;
  3% planned), chips from the catalog by canonical name or alias, precision and utilization
  filed for some runs only, a reported figure for ~40%, inference usage for ~30% of systems and
  one cluster per 100 systems. Training compute spans ~1e16-1e28 FLOP (most 1e20-1e26), so every
  threshold (1e23-1e26) has systems on both sides.
* ``usage_disclosure(rows)``: an ``inference_usage`` disclosure of many segment rows per system and
  month (regions x hours), the shape the streaming filing path exists for.
* ``estimate_rows`` / ``flag_rows``: frames shaped like the ``estimate`` and ``flag`` tables.

Randomness is a hash of the row index (``_u``): numpy is not a dependency, and polars generates
10^7 rows in well under a second this way, identically on every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from tracker.registry.inputs import (
    CLUSTER_SCHEMA,
    FLAG_SCHEMA,
    RUN_SCHEMA,
    SYSTEM_SCHEMA,
    USAGE_SCHEMA,
    RegistryInputs,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

AS_OF = date(2026, 11, 27)
SEED = 20261127
# Canonical names and aliases as providers write them (all resolve through the catalog), with
# their dense BF16 peak (FLOP/s) used only to make filed chip-hours consistent with the compute.
ACCELERATORS: dict[str, float] = {
    "NVIDIA H100 SXM5": 9.89e14, "H100": 9.89e14, "NVIDIA A100 SXM4 80GB": 3.12e14, "A100": 3.12e14,
    "NVIDIA H200 SXM": 9.89e14, "NVIDIA B200": 2.25e15, "Google TPU v4": 2.75e14, "Google TPU v5p": 4.59e14,
    "AMD Instinct MI300X": 1.31e15, "NVIDIA V100 SXM2": 1.25e14, "Intel Gaudi 2": 4.32e14,
    "AWS Trainium2": 6.67e14, "NVIDIA GB200": 2.5e15,
}
ACCELERATOR_WEIGHTS = (0.22, 0.1, 0.14, 0.06, 0.08, 0.06, 0.06, 0.06, 0.06, 0.05, 0.04, 0.04, 0.03)
PRECISIONS = ("bf16", "fp8", "fp16", "tf32", None)
PRECISION_WEIGHTS = (0.45, 0.1, 0.05, 0.05, 0.35)
STAGES_AFTER = ("post_training", "fine_tuning", "reinforcement_learning")


def _u(stream: int, seed: int = SEED, index: str = "i") -> pl.Expr:
    """Uniform [0, 1) per row, from a hash of the row index: stream k is independent of k+1."""
    return pl.col(index).hash(seed * 1000 + stream).cast(pl.Float64) / 2.0**64


def _log_uniform(stream: int, low: float, high: float, seed: int = SEED) -> pl.Expr:
    return (pl.lit(low).log() + _u(stream, seed) * (pl.lit(high).log() - pl.lit(low).log())).exp()


def _choice(stream: int, values: Sequence[object], weights: tuple[float, ...],
            seed: int = SEED, dtype: pl.DataType | None = None) -> pl.Expr:
    u = _u(stream, seed)
    out = pl.lit(values[-1], dtype=dtype)
    cumulative = 0.0
    branches = []
    for value, weight in zip(values[:-1], weights[:-1], strict=True):
        cumulative += weight
        branches.append((cumulative, value))
    for cut, value in reversed(branches):
        out = pl.when(u < cut).then(pl.lit(value, dtype=dtype)).otherwise(out)
    return out


def _index(n: int) -> pl.DataFrame:
    return pl.select(i=pl.int_range(n, dtype=pl.UInt64))


def _days(expr: pl.Expr) -> pl.Expr:
    return pl.duration(days=expr.cast(pl.Int64))


def systems_frame(n: int, seed: int = SEED) -> pl.DataFrame:
    """``n`` systems keyed "1".."n"; ~15% name an earlier system as base (lineage)."""
    n_providers = max(3, n // 200)
    frame = _index(n).with_columns(
        provider_id=(_u(1, seed) * n_providers).floor().cast(pl.Int64) + 1,
        derived=(_u(2, seed) < 0.15) & (pl.col("i") > 0),
        base_i=(_u(3, seed) * pl.col("i").cast(pl.Float64)).floor().cast(pl.UInt64),
        other=_u(4, seed) < 1 / 3,
        version=(_u(5, seed) * 4).floor().cast(pl.Int64),
    )
    base_provider = frame.get_column("provider_id").gather(frame.get_column("base_i"))
    frame = frame.with_columns(base_provider=base_provider).with_columns(
        provider_id=pl.when(pl.col("derived") & ~pl.col("other")).then(pl.col("base_provider"))
        .when(pl.col("derived") & (pl.col("provider_id") == pl.col("base_provider")))
        .then(pl.col("provider_id") % n_providers + 1)
        .otherwise(pl.col("provider_id"))
    )
    return frame.select(
        system_key=(pl.col("i") + 1).cast(pl.String),
        base_system_key=pl.when("derived").then((pl.col("base_i") + 1).cast(pl.String)),
        provider_id="provider_id",
        provider=pl.format("provider-{}", pl.col("provider_id").cast(pl.String).str.pad_start(5, "0")),
        name=pl.format("model-{}", (pl.col("i") + 1).cast(pl.String).str.pad_start(7, "0")),
        version=pl.when(pl.col("version") == 0).then(pl.lit("")).otherwise(pl.format("v{}", "version")),
        is_downstream_modifier=pl.col("derived") & (pl.col("provider_id") != pl.col("base_provider")),
    ).cast(SYSTEM_SCHEMA)  # type: ignore[arg-type]


def runs_frame(systems: pl.DataFrame, seed: int = SEED) -> pl.DataFrame:
    """One main run per system, a second (post-training) run for 30%, a planned run for 3%."""
    n = systems.height
    owners = _index(n).with_columns(
        derived=systems.get_column("base_system_key").is_not_null(),
        second=_u(10, seed) < 0.30,
        planned=_u(11, seed) < 0.03,
        # Size of the system: parameters log-uniform 1e7..1e12.
        params=_log_uniform(12, 1e7, 1e12, seed),
    )
    runs = pl.concat([
        owners.with_columns(kind=pl.lit(0, pl.Int8)),
        owners.filter("second").with_columns(kind=pl.lit(1, pl.Int8)),
        owners.filter("planned").with_columns(kind=pl.lit(2, pl.Int8)),
    ]).rename({"i": "owner"}).with_row_index("i").with_columns(pl.col("i").cast(pl.UInt64))
    names = list(ACCELERATORS)
    main = (pl.col("kind") == 0) & ~pl.col("derived")
    runs = runs.with_columns(
        main=main,
        # Tokens ~20x parameters (x0.3-10) for pretraining; follow-on runs 0.1-5% of that.
        tokens=pl.col("params") * 20 * _log_uniform(13, 0.3, 10, seed)
        * pl.when(main).then(1.0).otherwise(0.001 + _u(14, seed) * 0.049),
        accelerator=_choice(15, names, ACCELERATOR_WEIGHTS, seed, pl.String()),
        util=0.2 + _u(16, seed) * 0.3,
        count=_log_uniform(17, 8, 100_000, seed).round(0).clip(lower_bound=8),
        filed_hours=_u(18, seed) < 0.8,
        precision=_choice(19, PRECISIONS, PRECISION_WEIGHTS, seed, pl.String()),
        moe=_u(20, seed) < 0.1,
        start=pl.lit(AS_OF) - _days(30 + _u(21, seed) * 1970),
    ).with_columns(
        flop=6 * pl.col("params") * pl.col("tokens"),
        peak=pl.col("accelerator").replace_strict(names, list(ACCELERATORS.values()), return_dtype=pl.Float64),
    ).with_columns(
        chip_hours=pl.col("flop") / (pl.col("peak") * pl.col("util") * 3600),
    ).with_columns(
        hours=pl.col("chip_hours") / pl.col("count"),
    )
    keys = systems.get_column("system_key")
    return runs.select(
        run_key=(pl.col("i") + 1).cast(pl.String),
        system_key=pl.lit(keys).gather(pl.col("owner")),
        base_system_key=pl.lit(None, pl.String),
        stage=pl.when("main").then(pl.lit("pretraining"))
        .otherwise(_choice(22, STAGES_AFTER, (1 / 3, 1 / 3, 1 / 3), seed, pl.String())),
        status=pl.when(pl.col("kind") == 2).then(pl.lit("planned")).otherwise(pl.lit("completed")),
        accelerator="accelerator",
        accelerator_count=pl.when("filed_hours").then("count"),
        training_hours=pl.when("filed_hours").then("hours"),
        chip_hours=pl.when(~pl.col("filed_hours")).then("chip_hours"),
        start_date="start",
        end_date=pl.col("start") + _days((pl.col("hours") / 24).clip(1, 400))
        + pl.when(pl.col("kind") == 2).then(_days(pl.lit(500))).otherwise(_days(pl.lit(0))),
        precision="precision",
        utilization=pl.when(_u(23, seed) < 0.35).then("util"),
        parameters=pl.when(_u(24, seed) < 0.85).then(pl.col("params") * pl.when("moe").then(4.0).otherwise(1.0)),
        active_parameters=pl.when(pl.col("moe") & (_u(24, seed) < 0.85)).then("params"),
        training_tokens=pl.when(_u(25, seed) < 0.75).then("tokens"),
        reported_flop=pl.when(_u(26, seed) < 0.4).then(pl.col("flop") * (0.75 + _u(27, seed) * 0.6)),
    ).cast(RUN_SCHEMA)  # type: ignore[arg-type]


def usage_frame(systems: pl.DataFrame, seed: int = SEED) -> pl.DataFrame:
    """The last 30 days of inference usage for ~30% of systems."""
    names = list(ACCELERATORS)[:6]
    frame = _index(systems.height).with_columns(systems.get_column("system_key")).filter(_u(30, seed) < 0.30)
    frame = frame.with_columns(output=_log_uniform(31, 1e8, 5e14, seed))
    return frame.select(
        "system_key",
        period_start=pl.lit(AS_OF - timedelta(days=30)),
        period_end=pl.lit(AS_OF - timedelta(days=1)),
        input_tokens=pl.col("output") * (2 + _u(32, seed) * 18),
        output_tokens="output",
        requests=pl.col("output") / (200 + _u(33, seed) * 1800),
        mean_context_tokens=pl.when(_u(34, seed) < 0.5).then(500 + _u(35, seed) * 29_500),
        accelerator=pl.when(_u(36, seed) < 0.6).then(_choice(37, names, (1 / 6,) * 6, seed, pl.String())),
        accelerator_hours=pl.when(_u(38, seed) < 0.5).then(_log_uniform(39, 1e2, 1e7, seed)),
        utilization=pl.when(_u(40, seed) < 0.2).then(0.05 + _u(41, seed) * 0.25),
    ).cast(USAGE_SCHEMA)  # type: ignore[arg-type]


def clusters_frame(systems: pl.DataFrame, seed: int = SEED) -> pl.DataFrame:
    k = max(1, systems.height // 100)
    providers = systems.select("provider", "provider_id").unique().sort("provider_id")
    names = list(ACCELERATORS)
    frame = _index(k).with_columns(pick=(_u(50, seed) * providers.height).floor().cast(pl.UInt32))
    return frame.select(
        cluster_key=pl.format("cluster:{}", (pl.col("i") + 1).cast(pl.String)),
        provider=pl.lit(providers.get_column("provider")).gather("pick"),
        provider_id=pl.lit(providers.get_column("provider_id")).gather("pick"),
        accelerator=_choice(51, names, ACCELERATOR_WEIGHTS, seed, pl.String()),
        accelerator_count=_log_uniform(52, 64, 200_000, seed).round(0),
    ).cast(CLUSTER_SCHEMA)  # type: ignore[arg-type]


def registry_frames(n_systems: int, seed: int = SEED) -> dict[str, pl.DataFrame]:
    systems = systems_frame(n_systems, seed)
    return {
        "systems": systems,
        "runs": runs_frame(systems, seed),
        "usage": usage_frame(systems, seed),
        "clusters": clusters_frame(systems, seed),
        "previous_flags": pl.DataFrame(schema=FLAG_SCHEMA),
    }


def write_registry(directory: Path, n_systems: int) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, frame in registry_frames(n_systems).items():
        path = directory / f"{name}.parquet"
        frame.write_parquet(path)
        paths[name] = str(path)
    return paths


def read_registry(paths: dict[str, str]) -> RegistryInputs:
    frames = {name: pl.read_parquet(path) for name, path in paths.items()}
    return RegistryInputs(**frames)


# --- inference usage disclosures -----------------------------------------------------------

USAGE_SYSTEMS = 500
USAGE_MONTHS = 12


def usage_disclosure(rows: int, seed: int = SEED, offset: int = 0) -> pl.DataFrame:
    """``rows`` usage rows: 500 systems x 12 months of 2025, the rest segments (region/shard).

    Cells are what a provider's export holds: whole token counts, a few blanks, an alias for the
    accelerator. About 6,000 (system, period, accelerator) keys whatever the row count.
    """
    starts = [date(2025, m + 1, 1) for m in range(USAGE_MONTHS)]
    ends = [(date(2025, m + 2, 1) if m < 11 else date(2026, 1, 1)) - timedelta(days=1) for m in range(USAGE_MONTHS)]
    keys = USAGE_SYSTEMS * USAGE_MONTHS
    # Row i covers (system, month) number (i * 4999) mod 6000 (a bijection on each block of 6,000
    # rows) and segment i // 6000: every (system, version, period, segment) identity is unique.
    frame = pl.select(i=pl.int_range(offset, offset + rows, dtype=pl.UInt64)).with_columns(
        k=(pl.col("i") * 4999 % keys).cast(pl.Int64),
        segment=(pl.col("i") // keys).cast(pl.Int64),
    ).with_columns(
        sys=pl.col("k") % USAGE_SYSTEMS,
        month=pl.col("k") // USAGE_SYSTEMS,
        output_tokens=(10_000 + _u(62, seed) * 50_000_000).floor().cast(pl.Int64),
    )
    return frame.select(
        system=pl.format("assistant-{}", pl.col("sys").cast(pl.String).str.pad_start(4, "0")),
        version=pl.when(pl.col("sys") % 5 == 0).then(pl.lit("2")).otherwise(pl.lit("")),
        period_start=pl.col("month").replace_strict(list(range(USAGE_MONTHS)), starts, return_dtype=pl.Date),
        period_end=pl.col("month").replace_strict(list(range(USAGE_MONTHS)), ends, return_dtype=pl.Date),
        input_tokens=pl.col("output_tokens") * (2 + (_u(64, seed) * 10).floor().cast(pl.Int64)),
        output_tokens="output_tokens",
        requests=(pl.col("output_tokens") // (200 + (_u(65, seed) * 1800).floor().cast(pl.Int64))).clip(1),
        mean_context_tokens=pl.when(pl.col("segment") % 7 == 0).then(None)
        .otherwise((500 + _u(66, seed) * 31_500).floor().cast(pl.Int64)),
        accelerator=pl.when(pl.col("sys") % 3 == 0).then(pl.lit("H100")).otherwise(pl.lit("NVIDIA A100 SXM4 80GB")),
        accelerator_hours=(0.5 + _u(67, seed) * 400).round(2),
        utilization=(0.05 + _u(68, seed) * 0.25).round(3),
        segment=pl.format("region-{}/shard-{}", pl.col("segment") % 24, pl.col("segment") // 24),
    )


def write_usage_files(directory: Path, rows: int, chunk_rows: int = 2_000_000) -> dict[str, str]:
    """The same disclosure as CSV and as Parquet, written in chunks (bounded memory)."""
    directory.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path = directory / f"usage_{rows}.csv", directory / f"usage_{rows}.parquet"
    parts = []
    with csv_path.open("wb") as handle:
        for i, start in enumerate(range(0, rows, chunk_rows)):
            chunk = usage_disclosure(min(chunk_rows, rows - start), offset=start)
            chunk.write_csv(handle, include_header=(i == 0))
            part = directory / f".usage_part_{i}.parquet"
            chunk.write_parquet(part)
            parts.append(part)
    pl.scan_parquet(parts).sink_parquet(parquet_path)
    for part in parts:
        part.unlink()
    return {"csv": str(csv_path), "parquet": str(parquet_path)}


# --- estimate and flag rows shaped like the tables -----------------------------------------

ESTIMATE_KINDS = ("training", "modification", "projected", "inference_30d")
_INPUTS_JSON = ('{"runs":[{"run_key":"1","stage":"pretraining","status":"completed",'
                '"hardware_flop_central":1.2e24,"architecture_flop_central":9.8e23,"reported_flop_central":null,'
                '"training_flop_central":1.1e24,"utilization_used":0.3,"precision_used":"bf16"}]}')


def estimate_rows(n: int, system_ids: int, seed: int = SEED) -> pl.DataFrame:
    """``n`` rows of the ``estimate`` table over ``system_ids`` systems (4 kinds each)."""
    kinds = list(ESTIMATE_KINDS)
    frame = _index(n).with_columns(central=_log_uniform(70, 1e19, 5e26, seed))
    return frame.select(
        system_id=((pl.col("i") // len(kinds)) % system_ids + 1).cast(pl.Int64),
        kind=(pl.col("i") % len(kinds)).replace_strict(list(range(len(kinds))), kinds, return_dtype=pl.String),
        central_flop="central",
        low_flop=pl.col("central") / (1.2 + _u(71, seed) * 2.8),
        high_flop=pl.col("central") * (1.2 + _u(72, seed) * 2.8),
        methods=_choice(73, ["architecture,hardware", "hardware", "architecture,hardware,reported", ""],
                        (0.4, 0.3, 0.2, 0.1), seed, pl.String()),
        confidence=pl.when(_u(74, seed) < 0.9)
        .then(_choice(75, ["confident", "likely", "speculative"], (0.3, 0.5, 0.2), seed, pl.String())),
        inputs_json=pl.lit(_INPUTS_JSON),
        methodology_version=pl.lit("2026.11-1"),
        computed_at=pl.lit(datetime(2026, 11, 27, 2, 0, tzinfo=UTC)).dt.convert_time_zone("UTC"),
        is_current=pl.lit(True),
    )


def flag_rows(n: int, regime_ids: list[str], seed: int = SEED) -> pl.DataFrame:
    """``n`` rows of the ``flag`` table: systems 1.. under each regime in turn (unique pairs)."""
    statuses = ["above", "likely_above", "likely_below", "below", "unknown"]
    frame = _index(n).with_columns(
        status=_choice(80, statuses, (0.01, 0.01, 0.08, 0.85, 0.05), seed, pl.String()),
        central=_log_uniform(81, 1e19, 5e26, seed),
        day=pl.lit(AS_OF) - _days(_u(82, seed) * 400),
    ).with_columns(flagged=pl.col("status").is_in(["above", "likely_above"]))
    return frame.select(
        subject_kind=pl.lit("system"),
        subject_id=(pl.col("i") // len(regime_ids) + 1).cast(pl.Int64),
        regime_id=(pl.col("i") % len(regime_ids)).replace_strict(
            list(range(len(regime_ids))), regime_ids, return_dtype=pl.String),
        status="status",
        projected=_u(83, seed) < 0.01,
        value_central="central",
        value_low=pl.col("central") / 2,
        value_high=pl.col("central") * 2,
        threshold=pl.when(pl.col("i") % 3 == 0).then(1e25).when(pl.col("i") % 3 == 1).then(1e26).otherwise(1e23),
        crossed_on=pl.when("flagged").then("day"),
        first_flagged_on=pl.when("flagged").then("day"),
        deadline=pl.when("flagged").then(pl.col("day") + _days(pl.lit(14))),
        reason=pl.when(pl.col("status") == "unknown").then(pl.lit("no estimate of training_flop_cumulative")),
        notified_at=pl.lit(None, pl.Datetime("us", "UTC")),
        notified_by=pl.lit(None, pl.String),
        evaluated_at=pl.lit(datetime(2026, 11, 27, 2, 0, tzinfo=UTC)).dt.convert_time_zone("UTC"),
    )


# --- a populated database ------------------------------------------------------------------

def populate_registry(url: str, n_systems: int, as_of: date, *, evaluate: str = "pipeline") -> dict[str, object]:
    """Migrate ``url`` and fill it with ``n_systems`` systems as if filed: providers, one training-run,
    usage and cluster filing per provider, the runs, usage and clusters, then one evaluation:

    * ``evaluate="pipeline"``: ``run_evaluation``, exactly as the nightly job (estimates, flags, history,
      discrepancies, alerts through the outbox one by one);
    * ``evaluate="writers"``: ``compute_registry`` and the pipeline's estimate and flag writers, with
      the flag_change alerts bulk-inserted: the same rows for the dashboard in a fraction of the time
      (run_evaluation takes minutes at 100,000 systems; see bench/README.md);
    * ``evaluate="none"``: filed records only.

    Returns what was written."""
    import sqlalchemy as sa

    from bench.common import create_schema
    from tracker.store.bulk import insert_frame
    from tracker.store.db import make_engine
    from tracker.store.models import AISystem, ComputeCluster, Filing, InferenceUsage, Provider, TrainingRun

    create_schema(url)
    frames = registry_frames(n_systems)
    systems, runs, usage, clusters = frames["systems"], frames["runs"], frames["usage"], frames["clusters"]
    stamp = pl.lit(datetime(2026, 1, 1, tzinfo=UTC)).dt.convert_time_zone("UTC")
    providers = systems.select("provider_id", "provider").unique("provider_id").sort("provider_id")
    kinds = ("training_runs", "inference_usage", "clusters")
    filings = pl.concat([
        providers.select(
            id=pl.col("provider_id") * len(kinds) + k - 2,
            accession=pl.format("CTT-2026-B{}", (pl.col("provider_id") * len(kinds) + k).cast(pl.String)),
            provider_id="provider_id", kind=pl.lit(kind), status=pl.lit("accepted"),
            sha256=(pl.col("provider_id") * len(kinds) + k).hash(k).cast(pl.String).str.pad_start(64, "0"),
            filename=pl.lit(f"{kind}.csv"), file_format=pl.lit("csv"), size_bytes=pl.lit(1000, pl.Int64),
            channel=pl.lit("cli"), filed_by=pl.lit("bench"), filed_at=stamp, record_count=pl.lit(0),
            superseded_count=pl.lit(0),
        )
        for k, kind in enumerate(kinds)
    ])

    def filing_id(kind: str) -> pl.Expr:
        return pl.col("provider_id") * len(kinds) + kinds.index(kind) - 2

    owner = systems.select(pl.col("system_key"), "provider_id")
    engine = make_engine(url)
    with engine.begin() as conn:
        insert_frame(conn, Provider.__table__, providers.select(  # type: ignore[attr-defined]
            id="provider_id", slug="provider", name="provider", created_at=stamp))
        insert_frame(conn, AISystem.__table__, systems.select(  # type: ignore[attr-defined]
            id=pl.col("system_key").cast(pl.Int64), provider_id="provider_id", name="name", version="version",
            base_system_id=pl.col("base_system_key").cast(pl.Int64),
            publication_date=pl.lit(date(2024, 1, 1)) + pl.duration(days=pl.col("system_key").cast(pl.Int64) % 900),
            created_at=stamp))
        insert_frame(conn, Filing.__table__, filings)  # type: ignore[attr-defined]
        insert_frame(conn, TrainingRun.__table__, runs.join(owner, on="system_key").select(  # type: ignore[attr-defined]
            id=pl.col("run_key").cast(pl.Int64), filing_id=filing_id("training_runs"), provider_id="provider_id",
            system_id=pl.col("system_key").cast(pl.Int64), run_id="run_key", stage="stage", status="status",
            accelerator="accelerator", accelerator_count="accelerator_count", training_hours="training_hours",
            chip_hours="chip_hours", start_date="start_date", end_date="end_date", precision="precision",
            utilization="utilization", parameters="parameters", active_parameters="active_parameters",
            training_tokens="training_tokens", reported_flop="reported_flop", is_current=pl.lit(True)))
        insert_frame(conn, InferenceUsage.__table__, usage.join(owner, on="system_key").select(  # type: ignore[attr-defined]
            filing_id=filing_id("inference_usage"), system_id=pl.col("system_key").cast(pl.Int64),
            period_start="period_start", period_end="period_end", input_tokens="input_tokens",
            output_tokens="output_tokens", requests="requests", mean_context_tokens="mean_context_tokens",
            accelerator="accelerator", accelerator_hours="accelerator_hours", utilization="utilization",
            is_current=pl.lit(True)))
        insert_frame(conn, ComputeCluster.__table__, clusters.select(  # type: ignore[attr-defined]
            filing_id=filing_id("clusters"), provider_id="provider_id", cluster_id="cluster_key",
            accelerator="accelerator", accelerator_count="accelerator_count", is_current=pl.lit(True)))
        if engine.dialect.name == "postgresql":
            for table in ("provider", "ai_system", "filing", "training_run"):
                conn.execute(sa.text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))"))
    summary: dict[str, object] = {"systems": systems.height, "runs": runs.height, "usage_rows": usage.height,
                                  "clusters": clusters.height, "providers": providers.height}
    if evaluate == "pipeline":
        from tracker.registry.pipeline import run_evaluation

        evaluation = run_evaluation(engine, as_of, actor="bench")
        summary.update(flags=evaluation.flags_written, estimates=evaluation.estimates_written,
                       alerts=evaluation.alerts)
    elif evaluate == "writers":
        summary.update(_evaluate_with_writers(engine, as_of))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    return summary


def _evaluate_with_writers(engine: Engine, as_of: date) -> dict[str, object]:
    import json

    from sqlmodel import Session

    from tracker.catalog.accelerators import load_catalog
    from tracker.registry.compute import compute_registry
    from tracker.registry.estimates import write_estimates as _write_estimates
    from tracker.registry.flags import write_flags as _write_flags
    from tracker.registry.inputs import load_inputs
    from tracker.registry.pipeline import default_regimes, sync_regimes
    from tracker.store.bulk import insert_frame
    from tracker.store.models import Alert

    regimes = default_regimes()
    with Session(engine) as session:
        inputs = load_inputs(session)
    result = compute_registry(inputs, load_catalog(), regimes, as_of)
    with Session(engine) as session:
        sync_regimes(session, regimes, "bench")
        estimates = _write_estimates(session, result)
        flags = _write_flags(session, result)
        flagged = result.evaluation.flags.filter(
            pl.col("alerts_enabled") & pl.col("status").cast(pl.String).is_in(["above", "likely_above"])
            & (pl.col("subject_kind").cast(pl.String) == "system")
        ).join(result.systems.select(pl.col("system_key").alias("subject_key"), "provider_id"), on="subject_key")
        created = datetime.now(UTC)
        alerts = flagged.select(
            idempotency_key=pl.format("flag:system:{}:{}:{}:current:{}", "subject_key", "regime_id",
                                      pl.col("status").cast(pl.String), pl.lit(as_of.isoformat())),
            kind=pl.lit("flag_change"), provider_id="provider_id",
            system_id=pl.col("subject_key").cast(pl.Int64), regime_id="regime_id",
            payload_json=pl.lit(json.dumps({"kind": "flag_change", "status": "above"})),
            created_at=pl.lit(created).dt.convert_time_zone("UTC"),
        )
        insert_frame(session.connection(), Alert.__table__, alerts)  # type: ignore[attr-defined]
        session.commit()
    return {"flags": flags, "estimates": estimates, "alerts": alerts.height}
