"""Offline capture: checkin/daily_record/visit.captured_at and problem.{raised,started,closed}_captured_at (the
phone's capture time, next to the server's receipt time), and cadre_work_settings.checkin_photo_required

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 18:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('checkin', 'daily_record', 'visit'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('captured_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('problem', schema=None) as batch_op:
        batch_op.add_column(sa.Column('raised_captured_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('started_captured_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('closed_captured_at', sa.DateTime(timezone=True), nullable=True))
    # Counties that set their numbers before keep check-ins without a photo.
    with op.batch_alter_table('cadre_work_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('checkin_photo_required', sa.Boolean(), nullable=True))
    op.execute("UPDATE cadre_work_settings SET checkin_photo_required = FALSE")
    with op.batch_alter_table('cadre_work_settings', schema=None) as batch_op:
        batch_op.alter_column('checkin_photo_required', existing_type=sa.Boolean(), nullable=False)


def downgrade():
    with op.batch_alter_table('cadre_work_settings', schema=None) as batch_op:
        batch_op.drop_column('checkin_photo_required')
    with op.batch_alter_table('problem', schema=None) as batch_op:
        batch_op.drop_column('closed_captured_at')
        batch_op.drop_column('started_captured_at')
        batch_op.drop_column('raised_captured_at')
    for table in ('visit', 'daily_record', 'checkin'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('captured_at')
