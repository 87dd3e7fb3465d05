"""Rows for registry tests, written straight through the models (the filing layer has its own tests), and
the pure engine's inputs built from plain rows."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from tracker.registry.inputs import CLUSTER_SCHEMA, FLAG_SCHEMA, RUN_SCHEMA, SYSTEM_SCHEMA, USAGE_SCHEMA, RegistryInputs
from tracker.store.models import AISystem, Filing, Provider, TrainingRun


def frame(rows: list[dict[str, object]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``rows`` as a frame of ``schema``; columns a row leaves out are null."""
    return pl.DataFrame([{c: row.get(c) for c in schema} for row in rows], schema=schema)


def registry_inputs(systems: list[dict[str, object]], runs: list[dict[str, object]]) -> RegistryInputs:
    """compute_registry's inputs for these systems and runs, with no usage, clusters or stored flags."""
    return RegistryInputs(
        systems=frame(systems, SYSTEM_SCHEMA), runs=frame(runs, RUN_SCHEMA),
        usage=pl.DataFrame(schema=USAGE_SCHEMA), clusters=pl.DataFrame(schema=CLUSTER_SCHEMA),
        previous_flags=pl.DataFrame(schema=FLAG_SCHEMA),
    )


def add_system_with_run(engine: Engine, *, provider: str, system: str, version: str = "",
                        base_system_id: int | None = None, **run: Any) -> int:
    """One provider (created if new), one system and one current training run; returns the system id."""
    with Session(engine) as session:
        prov = session.exec(select(Provider).where(Provider.slug == provider)).one_or_none()
        if prov is None:
            prov = Provider(slug=provider, name=provider)
            session.add(prov)
            session.flush()
        sys_row = AISystem(provider_id=prov.id, name=system, version=version, base_system_id=base_system_id)
        session.add(sys_row)
        session.flush()
        filing = Filing(accession=f"TEST-{sys_row.id:06d}", provider_id=prov.id, kind="training_runs",
                        status="accepted", sha256="0" * 64, filename="test.csv", file_format="csv",
                        size_bytes=1, channel="cli", filed_by="test", record_count=1)
        session.add(filing)
        session.flush()
        defaults: dict[str, Any] = {"run_id": f"{system}-run", "stage": "pretraining", "status": "completed",
                                    "end_date": date(2024, 7, 1)}
        session.add(TrainingRun(filing_id=filing.id, provider_id=prov.id, system_id=sys_row.id,
                                base_system_id=base_system_id, **(defaults | run)))
        session.commit()
        assert sys_row.id is not None
        return sys_row.id
