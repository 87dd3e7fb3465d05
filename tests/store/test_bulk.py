"""insert_frame stores exactly what SQLAlchemy's own insert stores, on each backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import polars as pl
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tracker.store.bulk import insert_frame
from tracker.store.types import UTCDateTime

ROWS = [
    {"name": "a", "flop": 3.14e23, "count": 2**40, "flag": True, "day": date(2025, 8, 2),
     "at": datetime(2026, 11, 27, 6, 30, 1, 123456, tzinfo=UTC), "status": "above"},
    {"name": "b'quote", "flop": None, "count": None, "flag": False, "day": None,
     # Not UTC: both paths must store the same instant in UTC.
     "at": datetime(2026, 1, 1, 23, 59, 59, tzinfo=timezone(timedelta(hours=-5))), "status": "below"},
    {"name": None, "flop": float("inf"), "count": 0, "flag": None, "day": date(1999, 12, 31),
     "at": None, "status": None},
    # On PostgreSQL the rows travel as CSV: an empty string must stay apart from NULL, and a
    # delimiter, quote or line break inside a value must survive.
    {"name": "", "flop": 0.1 + 0.2, "count": -1, "flag": True, "day": None, "at": None, "status": "above"},
    {"name": 'x,"y"\nz\\N', "flop": -5e-324, "count": None, "flag": False, "day": None, "at": None,
     "status": None},
]


def _table(metadata: sa.MetaData, name: str) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.Text), sa.Column("flop", sa.Float), sa.Column("count", sa.BigInteger),
        sa.Column("flag", sa.Boolean), sa.Column("day", sa.Date), sa.Column("at", UTCDateTime()),
        sa.Column("status", sa.String(16)),
    )


@pytest.fixture
def twin_tables(engine: Engine) -> Iterator[tuple[sa.Table, sa.Table]]:
    metadata = sa.MetaData()
    suffix = uuid.uuid4().hex[:8]
    ours, theirs = _table(metadata, f"bulk_ours_{suffix}"), _table(metadata, f"bulk_sqlalchemy_{suffix}")
    metadata.create_all(engine)
    yield ours, theirs
    metadata.drop_all(engine)


def _frame() -> pl.DataFrame:
    frame = pl.DataFrame(ROWS, schema={
        "name": pl.String, "flop": pl.Float64, "count": pl.Int64, "flag": pl.Boolean, "day": pl.Date,
        "at": pl.Datetime("us", "UTC"), "status": pl.String})
    # The evaluation hands enums (statuses) to the writers.
    return frame.with_columns(pl.col("status").cast(pl.Enum(["above", "below"])))


def _stored(engine: Engine, table: sa.Table) -> list[tuple[object, ...]]:
    # Raw values as the database holds them, without SQLAlchemy's result processing.
    columns = ", ".join(f'"{c}"' for c in ("name", "flop", "count", "flag", "day", "at", "status"))
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(f'SELECT {columns} FROM "{table.name}" ORDER BY id'))]


def test_insert_frame_stores_what_sqlalchemy_stores(engine: Engine, twin_tables: tuple[sa.Table, sa.Table]) -> None:
    ours, theirs = twin_tables
    with engine.begin() as conn:
        assert insert_frame(conn, ours, _frame()) == len(ROWS)
        conn.execute(theirs.insert(), ROWS)
    stored = _stored(engine, ours)
    assert stored == _stored(engine, theirs)
    assert len(stored) == len(ROWS)
    with engine.connect() as conn:  # and it reads back as the values written
        back = conn.execute(sa.select(ours.c.at, ours.c.day, ours.c.flag).order_by(ours.c.id)).all()
    assert [r.at for r in back] == [r["at"] for r in ROWS]
    assert [(r.day, r.flag) for r in back] == [(r["day"], r["flag"]) for r in ROWS]


def test_insert_frame_rolls_back_with_its_transaction(
    engine: Engine, twin_tables: tuple[sa.Table, sa.Table]
) -> None:
    ours, _ = twin_tables
    with pytest.raises(RuntimeError), engine.begin() as conn:
        insert_frame(conn, ours, _frame())
        raise RuntimeError("failure after the insert")
    assert _stored(engine, ours) == []


def test_insert_frame_refuses_naive_timestamps(engine: Engine, twin_tables: tuple[sa.Table, sa.Table]) -> None:
    ours, _ = twin_tables
    naive = _frame().with_columns(pl.col("at").dt.replace_time_zone(None))
    with pytest.raises(ValueError, match="naive"), engine.begin() as conn:
        insert_frame(conn, ours, naive)
