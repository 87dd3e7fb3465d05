"""web state shared across processes: sign-in attempt buckets

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.store.types

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('attempt_bucket',
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('tokens', sa.Float(), nullable=False),
    sa.Column('updated_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    with op.batch_alter_table('attempt_bucket', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attempt_bucket_updated_at'), ['updated_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('attempt_bucket', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attempt_bucket_updated_at'))
    op.drop_table('attempt_bucket')
