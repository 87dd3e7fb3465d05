"""registration: obligations, submissions, attachments and their history

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 05:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.store.types

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('registration',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('system_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.Integer(), nullable=False),
    sa.Column('regime_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('obligation', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('voluntary', sa.Boolean(), nullable=False),
    sa.Column('crossed_on', sa.Date(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=True),
    sa.Column('registration_number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('registered_at', tracker.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('opened_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['provider_id'], ['provider.id'], ),
    sa.ForeignKeyConstraint(['regime_id'], ['regime.id'], ),
    sa.ForeignKeyConstraint(['system_id'], ['ai_system.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('registration_number'),
    sa.UniqueConstraint('system_id', 'regime_id')
    )
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_provider_id'), ['provider_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_registration_state'), ['state'], unique=False)

    op.create_table('registration_sequence',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year')
    )
    op.create_table('registration_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    sa.Column('to_state', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('registration_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_event_registration_id'), ['registration_id'], unique=False)

    op.create_table('registration_submission',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('channel', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('submitted_by', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('submitted_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('compute_flop', sa.Float(), nullable=True),
    sa.Column('compute_method', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('crossed_on', sa.Date(), nullable=True),
    sa.Column('contact', sa.Text(), nullable=True),
    sa.Column('contest_text', sa.Text(), nullable=True),
    sa.Column('record_sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('registration_submission', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_submission_registration_id'), ['registration_id'],
                              unique=False)

    op.create_table('registration_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('submission_id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('media_type', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('stored_path', sqlmodel.sql.sqltypes.AutoString(length=1024), nullable=False),
    sa.ForeignKeyConstraint(['submission_id'], ['registration_submission.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('registration_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registration_attachment_sha256'), ['sha256'], unique=False)
        batch_op.create_index(batch_op.f('ix_registration_attachment_submission_id'), ['submission_id'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('registration_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registration_attachment_submission_id'))
        batch_op.drop_index(batch_op.f('ix_registration_attachment_sha256'))
    op.drop_table('registration_attachment')
    with op.batch_alter_table('registration_submission', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registration_submission_registration_id'))
    op.drop_table('registration_submission')
    with op.batch_alter_table('registration_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registration_event_registration_id'))
    op.drop_table('registration_event')
    op.drop_table('registration_sequence')
    with op.batch_alter_table('registration', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registration_state'))
        batch_op.drop_index(batch_op.f('ix_registration_provider_id'))
    op.drop_table('registration')
