"""the filing and evaluation work queue (filing_job)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 09:00:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.store.types

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUEUED_EVALUATION = "job_type = 'evaluation' AND status = 'queued'"
_OPEN_INBOX_FILE = "job_type = 'inbox' AND status IN ('queued', 'running')"


def upgrade() -> None:
    op.create_table('filing_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('public_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('job_type', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=True),
    sa.Column('provider_slug', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('disclosure_kind', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=True),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('filed_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('spool_path', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('max_attempts', sa.Integer(), nullable=False),
    sa.Column('run_after', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claim_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('claimed_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=True),
    sa.Column('lease_until', tracker.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', tracker.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', tracker.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('accession', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('outcome_json', sa.Text(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('public_id')
    )
    with op.batch_alter_table('filing_job', schema=None) as batch_op:
        batch_op.create_index('ix_filing_job_due', ['status', 'run_after', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_filing_job_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index('ux_filing_job_queued_evaluation', ['job_type'], unique=True,
                              sqlite_where=sa.text(_QUEUED_EVALUATION),
                              postgresql_where=sa.text(_QUEUED_EVALUATION))
        batch_op.create_index('ux_filing_job_open_inbox_file', ['spool_path'], unique=True,
                              sqlite_where=sa.text(_OPEN_INBOX_FILE),
                              postgresql_where=sa.text(_OPEN_INBOX_FILE))


def downgrade() -> None:
    with op.batch_alter_table('filing_job', schema=None) as batch_op:
        batch_op.drop_index('ux_filing_job_open_inbox_file')
        batch_op.drop_index('ux_filing_job_queued_evaluation')
        batch_op.drop_index(batch_op.f('ix_filing_job_provider_id'))
        batch_op.drop_index('ix_filing_job_due')
    op.drop_table('filing_job')
