"""dashboard summaries: system_status carries what the views sort and filter by; system_crossing

``system_status`` is derived data (rebuilt from flags and current estimates by
``tracker.registry.status``), so it is recreated rather than altered and filled here from the
stored flags and estimates with the same rules, in SQL both backends run; ``system_crossing``
(one row per system and regime it is above or likely above) likewise. The indexes serve the
views' sorts (DESC NULLS LAST, id). On PostgreSQL, a pg_trgm index serves the grid's name filter.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 05:42:34.066388
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.store.types

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out rather than imported so the migration keeps meaning what it meant when written.
_RANK = ("CASE f.status WHEN 'above' THEN 4 WHEN 'likely_above' THEN 3 WHEN 'likely_below' THEN 2 "
         "WHEN 'below' THEN 1 ELSE 0 END")
_CROSSING = "f.status IN ('above', 'likely_above')"
_OF_SYSTEM = "FROM flag f WHERE f.subject_kind = 'system' AND f.subject_id = s.id"


def _now() -> sa.BindParameter[object]:
    return sa.bindparam("now", tracker.store.types.utcnow(), type_=tracker.store.types.UTCDateTime())


def _desc(column: str) -> sa.ColumnElement[object]:
    # SQLite refuses NULLS LAST in an index; its plain DESC already puts NULLs last.
    nulls = "" if op.get_bind().dialect.name == "sqlite" else " NULLS LAST"
    return sa.literal_column(f"{column} DESC{nulls}")


def upgrade() -> None:
    op.drop_table('system_status')
    op.create_table('system_status',
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('status_rank', sa.Integer(), nullable=True),
    sa.Column('projected', sa.Boolean(), nullable=False),
    sa.Column('training_central_flop', sa.Float(), nullable=True),
    sa.Column('training_low_flop', sa.Float(), nullable=True),
    sa.Column('training_high_flop', sa.Float(), nullable=True),
    sa.Column('training_methods', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('training_confidence', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('inference_30d_central_flop', sa.Float(), nullable=True),
    sa.Column('updated_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.ForeignKeyConstraint(['system_id'], ['ai_system.id'], ),
    sa.PrimaryKeyConstraint('system_id')
    )
    op.create_table('system_crossing',
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('regime_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('status_rank', sa.Integer(), nullable=False),
    sa.Column('projected', sa.Boolean(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('notified', sa.Boolean(), nullable=False),
    sa.Column('training_central_flop', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.ForeignKeyConstraint(['regime_id'], ['regime.id'], ),
    sa.ForeignKeyConstraint(['system_id'], ['ai_system.id'], ),
    sa.PrimaryKeyConstraint('system_id', 'regime_id')
    )
    _fill()
    with op.batch_alter_table('system_status', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_system_status_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index('ix_system_status_training', [_desc('training_central_flop'), 'system_id'], unique=False)
        batch_op.create_index('ix_system_status_inference', [_desc('inference_30d_central_flop'), 'system_id'],
                              unique=False)
        batch_op.create_index('ix_system_status_rank', [_desc('status_rank'), 'system_id'], unique=False)
        batch_op.create_index('ix_system_status_crossing', [_desc('training_central_flop'), 'system_id'], unique=False,
                              postgresql_where=sa.text('status_rank >= 3'), sqlite_where=sa.text('status_rank >= 3'))
    if op.get_bind().dialect.name == "postgresql":
        # pg_trgm ships with PostgreSQL (contrib) and is a trusted extension (13+): the database
        # owner may create it. It serves the grid's name filter, lower(name) LIKE '%text%'.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_ai_system_name_trgm ON ai_system USING gin (lower(name) gin_trgm_ops)")
    with op.batch_alter_table('system_crossing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_system_crossing_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index('ix_system_crossing_regime', ['regime_id', _desc('training_central_flop'), 'system_id'],
                              unique=False)


def _fill() -> None:
    """Every system's summary and crossings from the flags and current estimates already stored."""
    bind = op.get_bind()
    bind.execute(sa.text(
        "INSERT INTO system_status (system_id, provider_id, status_rank, projected, training_central_flop, "
        "training_low_flop, training_high_flop, training_methods, training_confidence, "
        "inference_30d_central_flop, updated_at) "
        f"SELECT s.id, s.provider_id, (SELECT max({_RANK}) {_OF_SYSTEM}), "
        f"coalesce((SELECT max(CASE WHEN f.projected AND {_CROSSING} THEN 1 ELSE 0 END) {_OF_SYSTEM}), 0) = 1, "
        "t.central_flop, t.low_flop, t.high_flop, t.methods, t.confidence, i.central_flop, :now "
        "FROM ai_system s "
        "LEFT JOIN estimate t ON t.id = (SELECT max(e.id) FROM estimate e WHERE e.system_id = s.id "
        "AND e.kind = 'training' AND e.is_current) "
        "LEFT JOIN estimate i ON i.id = (SELECT max(e.id) FROM estimate e WHERE e.system_id = s.id "
        "AND e.kind = 'inference_30d' AND e.is_current)"
    ).bindparams(_now()))
    bind.execute(sa.text(
        "INSERT INTO system_crossing (system_id, regime_id, provider_id, status_rank, projected, deadline, "
        "notified, training_central_flop) "
        f"SELECT s.id, f.regime_id, s.provider_id, {_RANK}, f.projected, f.deadline, "
        "f.notified_at IS NOT NULL, ss.training_central_flop "
        "FROM flag f JOIN ai_system s ON s.id = f.subject_id JOIN system_status ss ON ss.system_id = s.id "
        f"WHERE f.subject_kind = 'system' AND {_CROSSING}"
    ))


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_ai_system_name_trgm")  # the extension stays: others may use it
    op.drop_table('system_crossing')
    op.drop_table('system_status')
    op.create_table('system_status',
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('status_rank', sa.Integer(), nullable=False),
    sa.Column('projected', sa.Boolean(), nullable=False),
    sa.Column('updated_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['system_id'], ['ai_system.id'], ),
    sa.PrimaryKeyConstraint('system_id')
    )
    op.get_bind().execute(sa.text(
        f"INSERT INTO system_status (system_id, status_rank, projected, updated_at) "
        f"SELECT s.id, max({_RANK}), max(CASE WHEN f.projected AND {_CROSSING} THEN 1 ELSE 0 END) = 1, :now "
        "FROM ai_system s JOIN flag f ON f.subject_kind = 'system' AND f.subject_id = s.id GROUP BY s.id"
    ).bindparams(_now()))
    with op.batch_alter_table('system_status', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_system_status_status_rank'), ['status_rank'], unique=False)
