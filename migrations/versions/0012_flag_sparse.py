"""sparse flags: no flag rows for regimes the tracker cannot assess; one history event for a first evaluation

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 09:00:00.000000

``flag_event`` gains ``kind`` (``transition``, the existing rows; ``first_evaluated``: one row per
subject on its first evaluation, with ``regime_id`` null, which the column now allows). The stored
``unknown`` flags of regimes whose metric the tracker does not hold are deleted: the evaluation no
longer writes them (the regime's definition says once why it cannot be assessed). Their history
rows stay. The downgrade restores the columns, not the deleted rows (the next evaluation of the
older code writes them again).
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The metrics the tracker computes when this revision was written (tracker.regimes.model.HELD_METRICS,
# frozen here: a migration must not change meaning when the code does). ``regime.metric`` stores the
# effective metric, so a regulator-set threshold on a qualitative regime is held.
_HELD_METRICS = ("training_flop_cumulative", "training_flop_param_updates", "training_run_ops",
                 "modification_flop", "modification_flop_ratio", "relative_to_largest_run",
                 "inference_flop_30d", "cluster_peak_ops_per_s")


def upgrade() -> None:
    with op.batch_alter_table('flag_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False,
                                      server_default='transition'))
        batch_op.alter_column('regime_id', existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=True)
    held = ", ".join(f"'{metric}'" for metric in _HELD_METRICS)
    op.execute(f"DELETE FROM flag WHERE status = 'unknown' AND regime_id IN "
               f"(SELECT id FROM regime WHERE metric IS NULL OR metric NOT IN ({held}))")


def downgrade() -> None:
    op.execute("DELETE FROM flag_event WHERE regime_id IS NULL")
    with op.batch_alter_table('flag_event', schema=None) as batch_op:
        batch_op.alter_column('regime_id', existing_type=sqlmodel.sql.sqltypes.AutoString(), nullable=False)
        batch_op.drop_column('kind')
