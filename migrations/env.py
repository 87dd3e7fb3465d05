"""Alembic environment wired to the SQLModel metadata and the tracker's settings."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlmodel import SQLModel

import tracker.store.models  # noqa: F401  (registers every table on the metadata)
from tracker.config import get_settings
from tracker.store.db import make_engine
from tracker.store.partitions import is_partition_table

config = context.config
target_metadata = SQLModel.metadata

# Tables owned by libraries, not by our schema: APScheduler's job store.
EXTERNAL_TABLES = {"apscheduler_jobs"}


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    if type_ == "table" and name in EXTERNAL_TABLES:
        return False
    if type_ == "table" and reflected and compare_to is None and is_partition_table(name or ""):
        return False  # month partitions and archives of the history tables (tracker.store.partitions)
    return True


def _url() -> str:
    return config.attributes.get("database_url") or get_settings().database_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      compare_type=True, include_object=include_object, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection: Any) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,
                      include_object=include_object,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
