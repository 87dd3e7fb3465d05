"""Bulk writes of polars frames: COPY on PostgreSQL, executemany on SQLite.

Evaluating a registry of a million systems writes a million estimate and flag rows; going
through the ORM one object at a time would dominate the run, so the shell hands whole frames
to the fastest path each backend offers.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

COPY_BATCH_ROWS = 200_000


def _python_rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    return frame.rows()


def insert_frame(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> int:
    """Insert every row of ``frame`` (columns named as the table's) inside ``conn``'s transaction."""
    if frame.height == 0:
        return 0
    columns = frame.columns
    unknown = set(columns) - set(table.columns.keys())
    if unknown:
        raise ValueError(f"columns not in table {table.name}: {sorted(unknown)}")
    if conn.dialect.name == "postgresql":
        return _copy_postgres(conn, table, frame)
    statement = table.insert()
    for start in range(0, frame.height, COPY_BATCH_ROWS):
        chunk = frame.slice(start, COPY_BATCH_ROWS)
        conn.execute(statement, chunk.to_dicts())
    return frame.height


def _copy_postgres(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> int:
    raw = conn.connection.driver_connection  # psycopg.Connection, inside the same transaction
    assert raw is not None
    column_list = ", ".join(f'"{c}"' for c in frame.columns)
    # Timestamps must reach PostgreSQL as aware values; polars hands out aware datetimes when
    # the column carries a time zone, which the caller guarantees for UTCDateTime columns.
    with raw.cursor() as cursor:
        with cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy:
            for start in range(0, frame.height, COPY_BATCH_ROWS):
                for row in frame.slice(start, COPY_BATCH_ROWS).iter_rows():
                    copy.write_row(row)
    return frame.height
