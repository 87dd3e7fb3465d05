"""monthly partitions of the history tables (flag_event, inference_usage) on PostgreSQL

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 09:00:00.000000

On PostgreSQL each table is rebuilt as ``PARTITION BY RANGE`` on its date (``flag_event.changed_on``,
``inference_usage.period_start``) with whatever columns it has at this point (``LIKE`` the old
table), its indexes and outgoing foreign keys re-created, its id sequence kept, a DEFAULT partition
and one partition per month of the maintained window (12 months back to 3 ahead of the day it runs;
tracker.store.partitions keeps the window moving). Every row is moved over. The primary key becomes
``(id, <date>)``: PostgreSQL requires the partition key in every unique constraint.

``inference_usage.superseded_by_id`` loses its foreign key on both backends: a partitioned table
cannot be the target of one on ``id`` alone, and one schema for both backends is what the models
describe. The filing writer sets it from the superseding row in the same transaction.

The downgrade rebuilds plain tables, taking back the rows of the archives (``*_archive``) too.
"""
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of tracker.store.partitions' constants when this revision was written.
_TABLES = {"flag_event": "changed_on", "inference_usage": "period_start"}
_MONTHS_BACK = 12
_MONTHS_AHEAD = 3
_SQLITE_FK = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}


def _add_months(month: date, months: int) -> date:
    index = month.year * 12 + (month.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def _rows(sql: str, **params: object) -> list[sa.Row]:
    return list(op.get_bind().execute(sa.text(sql), params))


def _columns(table: str) -> str:
    names = _rows("SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 "
                  "AND NOT attisdropped ORDER BY attnum", t=table)
    return ", ".join(f'"{row[0]}"' for row in names)


def _indexes(table: str) -> list[str]:
    """CREATE INDEX statements of ``table``'s indexes other than its primary key's."""
    rows = _rows("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
                 "AND i.tablename = :t AND i.indexname NOT IN (SELECT conname FROM pg_constraint "
                 "WHERE conrelid = CAST(:t AS regclass) AND contype = 'p')", t=table)
    for name, definition in rows:
        if definition.startswith("CREATE UNIQUE"):
            raise RuntimeError(f"{table}: unique index {name} does not hold the partition key; "
                               f"add {_TABLES[table]} to it before partitioning")
    return [definition for _name, definition in rows]


def _foreign_keys(table: str, *, outgoing_only: bool) -> list[tuple[str, str]]:
    """(name, definition) of ``table``'s foreign keys to other tables (self-references left out)."""
    rows = _rows("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE contype = 'f' "
                 "AND conrelid = CAST(:t AS regclass) AND confrelid <> CAST(:t AS regclass)", t=table)
    if outgoing_only:
        incoming = _rows("SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f' "
                         "AND confrelid = CAST(:t AS regclass) AND conrelid <> CAST(:t AS regclass)", t=table)
        if incoming:
            raise RuntimeError(f"{table} is referenced by foreign keys {incoming}; a partitioned table cannot "
                               f"be referenced on id alone")
    return [(str(name), str(definition)) for name, definition in rows]


def _partition(table: str, key: str, today: date) -> None:
    old = f"{table}_unpartitioned"
    indexes = _indexes(table)
    foreign_keys = _foreign_keys(table, outgoing_only=True)
    sequence = _rows("SELECT pg_get_serial_sequence(:t, 'id')", t=table)[0][0]
    op.execute(f'ALTER TABLE "{table}" RENAME TO "{old}"')
    # The old table's constraints and indexes go first: their names are the new table's.
    for name, in _rows("SELECT conname FROM pg_constraint WHERE conrelid = CAST(:t AS regclass) "
                       "AND contype = 'f'", t=old):
        op.execute(f'ALTER TABLE "{old}" DROP CONSTRAINT "{name}"')
    for name, in _rows("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = :t "
                       "AND indexname NOT IN (SELECT conname FROM pg_constraint WHERE contype = 'p')", t=old):
        op.execute(f'DROP INDEX "{name}"')
    op.execute(f'ALTER TABLE "{old}" DROP CONSTRAINT "{table}_pkey"')
    op.execute(f'CREATE TABLE "{table}" (LIKE "{old}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
               f'PARTITION BY RANGE ("{key}")')
    op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id, "{key}")')
    for definition in indexes:
        op.execute(definition)
    for name, definition in foreign_keys:
        op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
    if sequence:
        op.execute(f'ALTER SEQUENCE {sequence} OWNED BY "{table}".id')
    op.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
    current = today.replace(day=1)
    for offset in range(-_MONTHS_BACK, _MONTHS_AHEAD + 1):
        month = _add_months(current, offset)
        op.execute(f'CREATE TABLE "{table}_p{month.year:04d}_{month.month:02d}" PARTITION OF "{table}" '
                   f"FOR VALUES FROM ('{month.isoformat()}') TO ('{_add_months(month, 1).isoformat()}')")
    columns = _columns(old)
    op.execute(f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{old}"')
    op.execute(f'DROP TABLE "{old}"')


def _unpartition(table: str) -> None:
    plain = f"{table}_plain"
    indexes = _indexes(table)
    foreign_keys = _foreign_keys(table, outgoing_only=False)
    sequence = _rows("SELECT pg_get_serial_sequence(:t, 'id')", t=table)[0][0]
    op.execute(f'CREATE TABLE "{plain}" (LIKE "{table}" INCLUDING DEFAULTS INCLUDING CONSTRAINTS)')
    columns = _columns(table)
    op.execute(f'INSERT INTO "{plain}" ({columns}) SELECT {columns} FROM "{table}"')
    archive = f"{table}_archive"
    if _rows("SELECT to_regclass(:n) IS NOT NULL", n=f"public.{archive}")[0][0]:
        op.execute(f'INSERT INTO "{plain}" ({columns}) SELECT {columns} FROM "{archive}"')
        op.execute(f'DROP TABLE "{archive}"')
    if sequence:
        op.execute(f'ALTER SEQUENCE {sequence} OWNED BY "{plain}".id')
    op.execute(f'DROP TABLE "{table}"')
    op.execute(f'ALTER TABLE "{plain}" RENAME TO "{table}"')
    op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{table}_pkey" PRIMARY KEY (id)')
    for definition in indexes:
        op.execute(definition)
    for name, definition in foreign_keys:
        op.execute(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("inference_usage", naming_convention=_SQLITE_FK) as batch_op:
            batch_op.drop_constraint("fk_inference_usage_superseded_by_id_inference_usage", type_="foreignkey")
        return
    op.execute('ALTER TABLE inference_usage DROP CONSTRAINT IF EXISTS "inference_usage_superseded_by_id_fkey"')
    for table, key in _TABLES.items():
        _partition(table, key, date.today())


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("inference_usage", naming_convention=_SQLITE_FK) as batch_op:
            batch_op.create_foreign_key("fk_inference_usage_superseded_by_id_inference_usage", "inference_usage",
                                        ["superseded_by_id"], ["id"])
        return
    for table in _TABLES:
        _unpartition(table)
    op.execute('ALTER TABLE inference_usage ADD CONSTRAINT "inference_usage_superseded_by_id_fkey" '
               'FOREIGN KEY (superseded_by_id) REFERENCES inference_usage(id)')
