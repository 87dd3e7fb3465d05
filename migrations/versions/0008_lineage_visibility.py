"""lineage visibility: which systems' figures are public

A provider may build on another provider's system only where that system's figures are public
(docs/filing.md, "Lineage"). Existing systems stay confidential (false).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 05:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain string default ('0' reads as false on both backends): with an SQL expression default
    # (sa.false()) Alembic's SQLite batch recreates the table, and dropping a populated ai_system
    # fails on the foreign keys that point at it. ADD COLUMN alone needs no copy.
    with op.batch_alter_table('ai_system', schema=None) as batch_op:
        batch_op.add_column(sa.Column('figures_public', sa.Boolean(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('ai_system', schema=None) as batch_op:
        batch_op.drop_column('figures_public')
