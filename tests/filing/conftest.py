"""Fixtures for the filing tests: corpus folders (binary files generated) and small helpers."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from tracker.store.models import AISystem, ComputeCluster, Filing, InferenceUsage, TrainingRun

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="session")
def binary_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The XLSX/Parquet corpus files, written by tests/corpus/make_binary.py."""
    spec = importlib.util.spec_from_file_location("make_binary", CORPUS / "make_binary.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path_factory.mktemp("binary-corpus")
    module.write_invalid(out / "invalid")
    module.write_valid(out / "valid")
    return out


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


def record_counts(engine: Engine) -> dict[str, int]:
    return {m.__tablename__: count(engine, m)  # type: ignore[attr-defined]
            for m in (TrainingRun, InferenceUsage, ComputeCluster, AISystem)}


def filings(engine: Engine) -> list[Filing]:
    with Session(engine) as session:
        return list(session.exec(select(Filing).order_by(Filing.id)).all())  # type: ignore[arg-type]


def audit_actions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.text("SELECT action FROM audit_event ORDER BY id"))]
