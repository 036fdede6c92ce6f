"""Cadres' inbox: notification.cadre_id (a resident cadre's own messages: leave decided, a problem handed to them);
a message belongs to a household or to a cadre, never both

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 20:30:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cadre_id', sa.Integer(), nullable=True))
        batch_op.alter_column('household_id', existing_type=sa.Integer(), nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_notification_cadre_id_cadre'), 'cadre', ['cadre_id'], ['id'])
        batch_op.create_index('ix_notification_cadre_id_id', ['cadre_id', 'id'], unique=False)
        batch_op.create_check_constraint(
            batch_op.f('ck_notification_one_inbox'), '(household_id IS NULL) <> (cadre_id IS NULL)'
        )


def downgrade():
    op.execute('DELETE FROM notification WHERE cadre_id IS NOT NULL')
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_notification_one_inbox'), type_='check')
        batch_op.drop_index('ix_notification_cadre_id_id')
        batch_op.drop_constraint(batch_op.f('fk_notification_cadre_id_cadre'), type_='foreignkey')
        batch_op.alter_column('household_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('cadre_id')
