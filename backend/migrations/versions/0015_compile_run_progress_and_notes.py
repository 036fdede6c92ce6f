"""compile_run.progressed_at (when the run last moved: the reconciler re-queues a run that has stopped) and
compile_run.notes (what happened to it on the way, for the admin)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 10:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('compile_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notes', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('progressed_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE compile_run SET notes = '[]', progressed_at = COALESCE(finished_at, started_at)")
    with op.batch_alter_table('compile_run', schema=None) as batch_op:
        batch_op.alter_column('notes', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('progressed_at', existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade():
    with op.batch_alter_table('compile_run', schema=None) as batch_op:
        batch_op.drop_column('progressed_at')
        batch_op.drop_column('notes')
