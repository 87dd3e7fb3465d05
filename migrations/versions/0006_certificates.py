"""registration certificates and signing keys

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 05:40:00.000000
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import tracker.store.types

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('signing_key',
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('algorithm', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('created_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', tracker.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key_id')
    )
    op.create_table('certificate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('registration_number', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
    sa.Column('body_json', sa.Text(), nullable=False),
    sa.Column('signature', sa.Text(), nullable=False),
    sa.Column('issued_at', tracker.store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('status_category', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('status_at', tracker.store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('superseded_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['key_id'], ['signing_key.key_id'], ),
    sa.ForeignKeyConstraint(['registration_id'], ['registration.id'], ),
    sa.ForeignKeyConstraint(['superseded_by_id'], ['certificate.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificate_registration_id'), ['registration_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_registration_number'), ['registration_number'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_certificate_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('certificate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificate_status'))
        batch_op.drop_index(batch_op.f('ix_certificate_registration_number'))
        batch_op.drop_index(batch_op.f('ix_certificate_registration_id'))
    op.drop_table('certificate')
    op.drop_table('signing_key')
