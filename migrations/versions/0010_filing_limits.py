"""filing limits: API rate limits and coalesced rejections

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 05:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.store.types

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rate_bucket',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('updated_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('rejection_repeat',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('errors_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('first_filing_id', sa.Integer(), nullable=False),
    sa.Column('last_filing_id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('first_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alert.id'], ),
    sa.ForeignKeyConstraint(['first_filing_id'], ['filing.id'], ),
    sa.ForeignKeyConstraint(['last_filing_id'], ['filing.id'], ),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('rejection_repeat', schema=None) as batch_op:
        batch_op.create_index('ix_rejection_repeat_match', ['provider_id', 'sha256', 'errors_sha256'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('rejection_repeat', schema=None) as batch_op:
        batch_op.drop_index('ix_rejection_repeat_match')
    op.drop_table('rejection_repeat')
    op.drop_table('rate_bucket')
