"""pairing.village_id: the household's village, copied, so a town's visit coverage reads its pairings by
village instead of joining every household of the town

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25 18:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('pairing', schema=None) as batch_op:
        batch_op.add_column(sa.Column('village_id', sa.Integer(), nullable=True))
    op.execute(
        'UPDATE pairing SET village_id = (SELECT household.village_id FROM household WHERE household.id = pairing.household_id)'
    )
    with op.batch_alter_table('pairing', schema=None) as batch_op:
        batch_op.alter_column('village_id', existing_type=sa.Integer(), nullable=False)
        batch_op.create_index(batch_op.f('ix_pairing_village_id'), ['village_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_pairing_village_id_village'), 'village', ['village_id'], ['id'])


def downgrade():
    with op.batch_alter_table('pairing', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_pairing_village_id_village'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_pairing_village_id'))
        batch_op.drop_column('village_id')
