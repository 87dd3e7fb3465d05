"""regulator-set thresholds, tiers and declared system conditions

``regime_setting``: thresholds the regulator sets for regimes whose text publishes none (append
only; the newest row per regime wins). ``system_condition``: conditions a provider declares for a
system (kind ``system_conditions``), superseded like other filed records. ``flag`` gains
``conditional``, ``unheld_conditions`` (JSON list) and ``tier``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 05:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.store.types

revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('regime_setting',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('regime_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('metric', sqlmodel.sql.sqltypes.AutoString(length=48), nullable=False),
    sa.Column('comparator', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('set_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('set_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('regime_setting', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_regime_setting_regime_id'), ['regime_id'], unique=False)

    op.create_table('system_condition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filing_id', sa.Integer(), nullable=False),
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('condition', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('held', sa.Boolean(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('is_current', sa.Boolean(), nullable=False),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['filing_id'], ['filing.id'], ),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['system_condition.id'], ),
    sa.ForeignKeyConstraint(['system_id'], ['ai_system.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('system_condition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_system_condition_filing_id'), ['filing_id'], unique=False)
        batch_op.create_index('ix_system_condition_current', ['system_id', 'condition', 'is_current'],
                              unique=False)

    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.add_column(sa.Column('conditional', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('unheld_conditions', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('tier', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('flag', schema=None) as batch_op:
        batch_op.drop_column('tier')
        batch_op.drop_column('unheld_conditions')
        batch_op.drop_column('conditional')
    with op.batch_alter_table('system_condition', schema=None) as batch_op:
        batch_op.drop_index('ix_system_condition_current')
        batch_op.drop_index(batch_op.f('ix_system_condition_filing_id'))
    op.drop_table('system_condition')
    with op.batch_alter_table('regime_setting', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_regime_setting_regime_id'))
    op.drop_table('regime_setting')
