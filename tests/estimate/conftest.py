from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl
import pytest

from tracker.catalog import Catalog, load_catalog
from tracker.estimate.engine import RUN_SCHEMA

RunsFactory = Callable[..., pl.DataFrame]


def _runs(*rows: dict[str, Any]) -> pl.DataFrame:
    """A runs frame with every contract column (missing ones null), like the filing layer's."""
    filled = []
    for i, row in enumerate(rows):
        base = {"run_key": f"run-{i}", "system_key": f"sys-{i}", "stage": "pretraining", "status": "completed"}
        filled.append({**base, **row})
    return pl.DataFrame(filled, schema=RUN_SCHEMA, strict=False)


@pytest.fixture
def make_runs() -> RunsFactory:
    return _runs


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture
def as_of() -> date:
    return date(2026, 6, 1)
