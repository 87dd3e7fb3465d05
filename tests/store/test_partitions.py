"""Monthly partitions of flag_event and inference_usage (tracker.store.partitions, migration 0013)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Connection, Engine

from tracker.config import Settings
from tracker.store import partitions
from tracker.store.bulk import insert_frame
from tracker.store.db import make_engine
from tracker.store.migrate import alembic_config, upgrade
from tracker.store.models import FlagEvent

TODAY = date.today()  # the migration builds its window around the real day it runs
THIS_MONTH = TODAY.replace(day=1)
NOW = datetime.now(UTC)


def _value(data_type: str) -> Any:
    """A filler for a NOT NULL column without default, by SQL type (the schema may grow columns)."""
    if data_type in ("integer", "bigint", "smallint", "double precision", "numeric", "real"):
        return 0
    if data_type == "boolean":
        return False
    if data_type.startswith("timestamp"):
        return NOW
    if data_type == "date":
        return TODAY
    return "x"


def insert(conn: Connection, table: str, **given: Any) -> int:
    """Insert one row, filling every other required column; returns its id."""
    required = conn.execute(sa.text(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = :t AND is_nullable = 'NO' AND column_default IS NULL"), {"t": table}).all()
    values = {name: _value(kind) for name, kind in required if name not in given} | given
    names = ", ".join(f'"{n}"' for n in values)
    params = ", ".join(f":{n}" for n in values)
    returning = " RETURNING id" if "id" not in values or table != "regime" else ""
    result = conn.execute(sa.text(f'INSERT INTO "{table}" ({names}) VALUES ({params}){returning}'), values)
    return int(result.scalar() or 0) if returning else 0


def seed_parents(conn: Connection) -> tuple[int, int, int]:
    """A provider, a system, a filing and a regime: (system id, filing id, provider id)."""
    provider = insert(conn, "provider", slug="acme", name="Acme AI")
    system = insert(conn, "ai_system", provider_id=provider, name="acme-lm", version="1")
    filing = insert(conn, "filing", provider_id=provider, accession="F-0001", sha256="0" * 64)
    insert(conn, "regime", id="eu-ai-act", jurisdiction="EU", instrument="AI Act", metric="training_flop_cumulative",
           comparator=">=", state="in_force", deadline_calendar="calendar", definition_json="{}")
    return system, filing, provider


def add_event(conn: Connection, system: int, changed_on: date) -> int:
    return insert(conn, "flag_event", subject_kind="system", subject_id=system, regime_id="eu-ai-act",
                  new_status="flagged", new_projected=False, changed_on=changed_on, recorded_at=NOW)


def add_usage(conn: Connection, system: int, filing: int, start: date, superseded_by: int | None = None) -> int:
    return insert(conn, "inference_usage", filing_id=filing, system_id=system, period_start=start,
                  period_end=start, is_current=superseded_by is None, superseded_by_id=superseded_by,
                  input_tokens=1e9)


def home(conn: Connection, table: str, row_id: int) -> str:
    """The partition (or plain table) holding ``row_id``."""
    return str(conn.execute(sa.text(f'SELECT tableoid::regclass::text FROM "{table}" WHERE id = :i'),
                            {"i": row_id}).scalar_one())


def snapshot(conn: Connection, table: str) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in conn.execute(sa.text(f'SELECT * FROM "{table}" ORDER BY id'))]


@pytest.fixture
def pg(empty_postgres_url: str) -> Iterator[Engine]:
    """A fresh PostgreSQL database at head: these tests change which partitions exist."""
    upgrade(empty_postgres_url)
    engine = make_engine(empty_postgres_url)
    yield engine
    engine.dispose()


def test_maintain_on_each_backend(engine: Engine) -> None:
    report = partitions.maintain(engine, Settings(), TODAY)
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            assert "nothing to do" in report
            assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name LIKE 'flag_event%' "
                                        "AND type = 'table'").scalar() == 1
            return
        parents = set(conn.exec_driver_sql(
            "SELECT partrelid::regclass::text FROM pg_partitioned_table").scalars())
    assert {"flag_event", "inference_usage"} <= parents
    # The migration built this month's window: nothing was missing.
    assert report.splitlines()[0].startswith("flag_event: created 0 partition(s)")


def test_window_is_bounded_and_runs_ahead() -> None:
    months = partitions.window(date(2026, 12, 4), None)
    assert months[0] == date(2025, 12, 1) and months[-1] == date(2027, 3, 1)
    assert len(months) == partitions.MONTHS_BACK + partitions.MONTHS_AHEAD + 1
    # Retention shortens the window: nothing is created only to be archived.
    assert partitions.window(date(2026, 12, 4), 2)[0] == date(2026, 10, 1)
    assert partitions.retention_cutoff(date(2026, 12, 31), 2) == date(2026, 10, 1)


def test_maintain_creates_coming_months_and_takes_their_rows_out_of_default(pg: Engine) -> None:
    later = partitions.add_months(THIS_MONTH, partitions.MONTHS_AHEAD + 2)
    with pg.begin() as conn:
        system, _, _ = seed_parents(conn)
        early = add_event(conn, system, later)  # beyond the window today: the default partition
        assert home(conn, "flag_event", early) == "flag_event_default"
    report = partitions.maintain(pg, Settings(), partitions.add_months(TODAY, 2))
    assert partitions.partition_name("flag_event", later) in report
    with pg.connect() as conn:
        assert home(conn, "flag_event", early) == partitions.partition_name("flag_event", later)
        names = partitions.month_partitions(conn, "inference_usage")
    assert partitions.partition_name("inference_usage", later) in names
    # Run again the same day: nothing more to do.
    again = partitions.maintain(pg, Settings(), partitions.add_months(TODAY, 2))
    assert "created 0 partition(s)" in again.splitlines()[0]


@pytest.mark.parametrize("hostile", [date(1950, 1, 1), date(2099, 12, 31)])
def test_default_partition_catches_hostile_dates_without_new_partitions(pg: Engine, hostile: date) -> None:
    with pg.connect() as conn:
        before = len(partitions.month_partitions(conn, "inference_usage"))
    with pg.begin() as conn:
        system, filing, _ = seed_parents(conn)
        usage = add_usage(conn, system, filing, hostile)
        event = add_event(conn, system, hostile)
    partitions.maintain(pg, Settings(), TODAY)
    with pg.connect() as conn:
        assert home(conn, "inference_usage", usage) == "inference_usage_default"
        assert home(conn, "flag_event", event) == "flag_event_default"
        assert len(partitions.month_partitions(conn, "inference_usage")) == before


def test_retention_moves_old_history_to_the_archive_with_rows_intact(pg: Engine) -> None:
    old_month = partitions.add_months(THIS_MONTH, -5)
    with pg.begin() as conn:
        system, filing, _ = seed_parents(conn)
        old_usage = add_usage(conn, system, filing, old_month)
        ancient = add_usage(conn, system, filing, date(1950, 3, 1), superseded_by=old_usage)
        recent = add_usage(conn, system, filing, THIS_MONTH)
        old_event = add_event(conn, system, old_month)
        kept = add_event(conn, system, TODAY)
        before = {t: snapshot(conn, t) for t in partitions.PARTITIONED}
    report = partitions.maintain(pg, Settings(history_retention_months=2), TODAY)
    old_name = partitions.partition_name("inference_usage", old_month)
    assert old_name in report and "1 row(s) of the default partition moved" in report
    with pg.connect() as conn:
        hot = {row[0] for row in snapshot(conn, "inference_usage")}
        assert hot == {recent}
        assert {row[0] for row in snapshot(conn, "flag_event")} == {kept}
        assert home(conn, "inference_usage_archive", old_usage) == old_name
        assert home(conn, "inference_usage_archive", ancient) == "inference_usage_archive_default"
        assert home(conn, "flag_event_archive", old_event) == partitions.partition_name("flag_event", old_month)
        for table in partitions.PARTITIONED:  # nothing lost, nothing changed: hot + archive == before
            after = sorted(snapshot(conn, table) + snapshot(conn, f"{table}_archive"))
            assert after == sorted(before[table])
        assert old_name not in partitions.month_partitions(conn, "inference_usage")
    # New rows of an archived month go to the hot table's default partition, not into the archive.
    with pg.begin() as conn:
        late = add_usage(conn, system, filing, old_month)
        assert home(conn, "inference_usage", late) == "inference_usage_default"


def _relations(plan: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Relation Name" in plan:
            found.add(str(plan["Relation Name"]))
        for value in plan.values():
            found |= _relations(value)
    elif isinstance(plan, list):
        for item in plan:
            found |= _relations(item)
    return found


def test_usage_query_for_one_recent_period_reads_one_partition(pg: Engine) -> None:
    from sqlmodel import Session

    from tracker.auth.scope import Scope
    from tracker.store.models import InferenceUsage
    from tracker.store.queries.common import FI, IU

    last_month = partitions.add_months(THIS_MONTH, -1)
    with pg.begin() as conn:
        system, filing, provider = seed_parents(conn)
        for offset in range(-3, 2):
            add_usage(conn, system, filing, partitions.add_months(THIS_MONTH, offset))
    # The system page's usage query (tracker.store.queries.system), narrowed to one period.
    query = (sa.select(InferenceUsage, FI.accession).join(FI, FI.id == IU.filing_id)
             .where(IU.system_id == system, IU.period_start >= last_month,
                    IU.period_start < THIS_MONTH))
    query = Scope(actor="acme-user", role="provider", provider_id=provider).restrict(query, FI.provider_id)
    with Session(pg) as session:
        compiled = query.compile(pg, compile_kwargs={"literal_binds": True})
        plan = session.execute(sa.text(f"EXPLAIN (FORMAT JSON) {compiled}")).scalar_one()
        rows = session.execute(query).all()
    plan = json.loads(plan) if isinstance(plan, str) else plan
    usage_tables = {name for name in _relations(plan) if name.startswith("inference_usage")}
    assert usage_tables == {partitions.partition_name("inference_usage", last_month)}
    assert len(rows) == 1


def test_copy_writes_flag_events_into_the_partitions(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            system, _, _ = seed_parents(conn)
        else:
            system = 1
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        frame = pl.DataFrame({"subject_kind": ["system", "system"], "subject_id": [system, system],
                              "kind": ["transition", "transition"], "regime_id": [None, None],
                              "new_status": ["flagged", "flagged"], "new_projected": [False, False],
                              "changed_on": [TODAY, date(1950, 1, 1)], "recorded_at": [NOW, NOW]})
        assert insert_frame(conn, FlagEvent.__table__, frame) == 2  # type: ignore[attr-defined]
        stored = conn.execute(sa.text("SELECT changed_on FROM flag_event ORDER BY changed_on")).scalars().all()
        homes: set[str] = set()
        if engine.dialect.name == "postgresql":
            homes = set(conn.execute(sa.text("SELECT tableoid::regclass::text FROM flag_event")).scalars())
    assert [d if isinstance(d, date) else date.fromisoformat(d) for d in stored] == [date(1950, 1, 1), TODAY]
    if engine.dialect.name == "postgresql":
        assert homes == {"flag_event_default", partitions.partition_name("flag_event", THIS_MONTH)}


def test_upgrade_from_0011_keeps_every_row(empty_postgres_url: str) -> None:
    config = alembic_config(empty_postgres_url)
    command.upgrade(config, "0011")
    engine = make_engine(empty_postgres_url)
    with engine.begin() as conn:
        system, filing, _ = seed_parents(conn)
        newest = add_usage(conn, system, filing, THIS_MONTH)
        for start in (date(1950, 1, 1), partitions.add_months(THIS_MONTH, -2), date(2099, 6, 1)):
            add_usage(conn, system, filing, start, superseded_by=newest)
        for day in (date(1950, 1, 1), TODAY, date(2099, 12, 31)):
            add_event(conn, system, day)
        before = {t: snapshot(conn, t) for t in partitions.PARTITIONED}
    command.upgrade(config, "head")
    with engine.begin() as conn:
        for table, rows in before.items():
            after = snapshot(conn, table)
            assert len(after) == len(rows)
            if table == "flag_event":  # 0012 added "kind", after the old columns
                assert [r[: len(rows[0])] for r in after] == rows
            else:
                assert after == rows
        kinds = conn.execute(sa.text("SELECT relkind FROM pg_class WHERE relname IN ('flag_event', "
                                     "'inference_usage')")).scalars().all()
        assert kinds == ["p", "p"]
        assert home(conn, "inference_usage", newest) == partitions.partition_name("inference_usage", THIS_MONTH)
        # The id sequences carried over: a new row does not collide with a moved one.
        assert add_usage(conn, system, filing, TODAY) > max(r[0] for r in before["inference_usage"])
    # And back: the downgrade rebuilds plain tables with the same rows.
    command.downgrade(config, "0012")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT relkind FROM pg_class WHERE relname = 'flag_event'")).scalar() == "r"
        assert len(snapshot(conn, "inference_usage")) == len(before["inference_usage"]) + 1
    engine.dispose()


def test_cli_maintains_the_configured_database(db_url: str, settings_env: object) -> None:
    from typer.testing import CliRunner

    from tracker.cli.main import app

    done = CliRunner().invoke(app, ["db", "partitions"])
    assert done.exit_code == 0, done.output
    if db_url.startswith("sqlite"):
        assert "nothing to do" in done.output
    else:
        assert "flag_event: created 0 partition(s)" in done.output and "inference_usage:" in done.output
    refused = CliRunner().invoke(app, ["db", "partitions", "--today", "2026-13-01"])
    assert refused.exit_code != 0 and "--today '2026-13-01' is not a date; expected YYYY-MM-DD" in refused.output
