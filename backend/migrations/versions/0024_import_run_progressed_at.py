"""import_run.progressed_at (when a queued or running import last moved: the reconciler fails one that has
stopped, so its page stops waiting)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 21:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progressed_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE import_run SET progressed_at = COALESCE(applied_at, checked_at, created_at)")
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.alter_column('progressed_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade():
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.drop_column('progressed_at')
