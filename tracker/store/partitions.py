"""Monthly partitions of the history tables on PostgreSQL (``flag_event``, ``inference_usage``).

Both tables grow without bound and are read by recent month: on PostgreSQL each is partitioned by
range on its date (``PARTITIONED``: the event's day, the usage period's start), one partition per
calendar month, named ``<table>_pYYYY_MM``, plus ``<table>_default``. Migration 0013 converted the
tables; ``maintain`` (a daily scheduler job, and ``tracker db partitions``) keeps them in shape:

- it creates the months of the maintained window ahead of time (``MONTHS_BACK`` before the current
  month to ``MONTHS_AHEAD`` after it), so that inserts of this month and the next land in a month
  partition and a query for one recent period reads one partition;
- a row outside the window (a provider may file a usage period anywhere in 1950..2099) goes to the
  DEFAULT partition: the number of partitions never depends on what providers file. When the window
  reaches a month the default partition holds rows of, those rows move into the new partition;
- with ``history_retention_months`` set, month partitions that ended before the retention cutoff
  are detached and attached to ``<table>_archive`` (partitioned the same way, with its own default),
  and older rows of the default partition move there too: they leave the hot table but are kept.

The partition key is part of each table's primary key (``(id, key)``): PostgreSQL requires it of
every unique constraint of a partitioned table. For the same reason nothing may reference these
tables by foreign key; ``inference_usage.superseded_by_id`` is kept by the writer (the superseding
row's id, set in the same transaction), not by a constraint.

A column later added to a hot table must be added to its archive too, or attaching fails there.
SQLite keeps one plain table each: ``maintain`` does nothing there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from tracker.config import Settings

# Months created ahead of time: inserts for the coming months never wait for the daily job.
MONTHS_AHEAD = 3
# Months kept as partitions behind the current one; older history lives in the default partition
# (or in the archive once retention applies). The window, not the data, sets the partition count.
MONTHS_BACK = 12
# The daily job must not queue behind a long report for ever: it fails and runs again tomorrow.
LOCK_TIMEOUT = "10s"

PARTITIONED: dict[str, str] = {"flag_event": "changed_on", "inference_usage": "period_start"}
ARCHIVE_SUFFIX = "_archive"
_PARTITION_NAME = re.compile(r"^(?P<table>flag_event|inference_usage)(_archive)?(_p\d{4}_\d{2}|_default)?$")


def is_partition_table(name: str) -> bool:
    """True for the tables this module manages besides the models' own: the month and default
    partitions and the archives (the schema check leaves them out)."""
    return name not in PARTITIONED and _PARTITION_NAME.match(name) is not None


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(month: date, months: int) -> date:
    index = month.year * 12 + (month.month - 1) + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(table: str, month: date) -> str:
    return f"{table}_p{month.year:04d}_{month.month:02d}"


def window(today: date, retention_months: int | None) -> list[date]:
    """The first days of the months that get their own partition on ``today``."""
    current = month_start(today)
    first = add_months(current, -MONTHS_BACK)
    if retention_months is not None:
        first = max(first, retention_cutoff(today, retention_months))
    return [add_months(first, i) for i in range((current.year - first.year) * 12 + current.month - first.month
                                                 + MONTHS_AHEAD + 1)]


def retention_cutoff(today: date, retention_months: int) -> date:
    """Rows dated before this day leave the hot table: the current month and the
    ``retention_months`` full months before it stay."""
    return add_months(month_start(today), -retention_months)


@dataclass
class TableReport:
    table: str
    created: list[str]
    archived: list[str]
    rows_to_archive: int

    def text(self) -> str:
        made = ", ".join(self.created) or "none"
        gone = ", ".join(self.archived) or "none"
        return (f"{self.table}: created {len(self.created)} partition(s) ({made}); archived {len(self.archived)} "
                f"({gone}); {self.rows_to_archive} row(s) of the default partition moved to the archive")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(conn: Connection, table: str) -> list[str]:
    rows = conn.execute(sa.text(
        "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) AND attnum > 0 "
        "AND NOT attisdropped ORDER BY attnum"), {"t": table}).scalars()
    return [str(r) for r in rows]


def _exists(conn: Connection, name: str) -> bool:
    return conn.execute(sa.text("SELECT to_regclass(:n) IS NOT NULL"), {"n": f"public.{name}"}).scalar() is True


def month_partitions(conn: Connection, parent: str) -> dict[str, date]:
    """The month partitions attached to ``parent``: name -> first day of the month (from the name,
    which this module alone gives)."""
    rows = conn.execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = CAST(:p AS regclass)"), {"p": parent}).scalars()
    out: dict[str, date] = {}
    for name in rows:
        match = re.fullmatch(re.escape(parent) + r"_p(\d{4})_(\d{2})", str(name))
        if match:
            out[str(name)] = date(int(match.group(1)), int(match.group(2)), 1)
    return out


def _move_rows(conn: Connection, source: str, target: str, key: str, columns: list[str],
               low: date | None, high: date) -> int:
    listed = ", ".join(_quote(c) for c in columns)
    where = f"{_quote(key)} < :high" + (f" AND {_quote(key)} >= :low" if low is not None else "")
    result = conn.execute(sa.text(
        f"WITH moved AS (DELETE FROM {_quote(source)} WHERE {where} RETURNING {listed}) "
        f"INSERT INTO {_quote(target)} ({listed}) SELECT {listed} FROM moved"), {"low": low, "high": high})
    return int(result.rowcount or 0)


def attach_month(conn: Connection, parent: str, partition: str, key: str, month: date, *, create: bool) -> None:
    """Attach ``partition`` (created empty from ``parent`` when ``create``) for ``month``, first
    moving into it the rows of that month held by ``parent``'s default partition: PostgreSQL
    refuses the attach while the default partition holds a row the new partition would take."""
    default = f"{parent}_default"
    # Inserts routed to the default partition wait until the attach is done, so none can slip in
    # between the move and the attach's check.
    conn.execute(sa.text(f"LOCK TABLE {_quote(default)} IN SHARE ROW EXCLUSIVE MODE"))
    if create:
        conn.execute(sa.text(f"CREATE TABLE {_quote(partition)} (LIKE {_quote(parent)} INCLUDING DEFAULTS)"))
    upper = add_months(month, 1)
    _move_rows(conn, default, partition, key, _columns(conn, parent), month, upper)
    conn.execute(sa.text(f"ALTER TABLE {_quote(parent)} ATTACH PARTITION {_quote(partition)} "
                         f"FOR VALUES FROM ('{month.isoformat()}') TO ('{upper.isoformat()}')"))


def _ensure_archive(conn: Connection, table: str, key: str) -> str:
    archive = table + ARCHIVE_SUFFIX
    if not _exists(conn, archive):
        # No defaults: an archived row keeps the id it had; nothing is ever inserted here anew.
        conn.execute(sa.text(f"CREATE TABLE {_quote(archive)} (LIKE {_quote(table)}) "
                             f"PARTITION BY RANGE ({_quote(key)})"))
        conn.execute(sa.text(f"CREATE TABLE {_quote(archive + '_default')} PARTITION OF {_quote(archive)} DEFAULT"))
    return archive


def _maintain_table(conn: Connection, table: str, key: str, today: date, retention_months: int | None) -> TableReport:
    conn.execute(sa.text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    report = TableReport(table, [], [], 0)
    attached = month_partitions(conn, table)
    held = set(attached.values())
    for month in window(today, retention_months):
        if month not in held:
            name = partition_name(table, month)
            attach_month(conn, table, name, key, month, create=True)
            report.created.append(name)
    if retention_months is None:
        return report
    cutoff = retention_cutoff(today, retention_months)
    archive = _ensure_archive(conn, table, key)
    for name, month in sorted(attached.items(), key=lambda item: item[1]):
        if add_months(month, 1) <= cutoff:
            conn.execute(sa.text(f"ALTER TABLE {_quote(table)} DETACH PARTITION {_quote(name)}"))
            attach_month(conn, archive, name, key, month, create=False)
            report.archived.append(name)
    report.rows_to_archive = _move_rows(conn, f"{table}_default", archive, key, _columns(conn, table), None, cutoff)
    return report


def maintain(engine: Engine, settings: Settings, today: date) -> str:
    """Create the coming months' partitions and archive those past retention; one line per table.

    Each table is done in its own transaction, so a lock timeout on one leaves the other done."""
    if engine.dialect.name != "postgresql":
        return "history tables are not partitioned on this database (SQLite): nothing to do"
    lines = []
    for table, key in PARTITIONED.items():
        with engine.begin() as conn:
            lines.append(_maintain_table(conn, table, key, today, settings.history_retention_months).text())
    return "\n".join(lines)
