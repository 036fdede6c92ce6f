"""Retiring towns, villages, grids, households and cadres (retired_on), members leaving (resident.left_on), a
grid worker's grid on their posting (posting.grid_id), and at most one head per household (uq_resident_head)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 20:01:30

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cadre', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_on', sa.Date(), nullable=True))

    with op.batch_alter_table('grid', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_on', sa.Date(), nullable=True))

    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_on', sa.Date(), nullable=True))

    with op.batch_alter_table('posting', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grid_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_posting_grid_id'), ['grid_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_posting_grid_id_grid'), 'grid', ['grid_id'], ['id'])
        batch_op.create_check_constraint(op.f('ck_posting_grid_only_for_grid_workers'), "grid_id IS NULL OR post = 'grid_worker'")

    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.add_column(sa.Column('left_on', sa.Date(), nullable=True))
        batch_op.create_index('uq_resident_head', ['household_id'], unique=True, postgresql_where=sa.text('is_head'), sqlite_where=sa.text('is_head'))

    with op.batch_alter_table('town', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_on', sa.Date(), nullable=True))

    with op.batch_alter_table('village', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retired_on', sa.Date(), nullable=True))


def downgrade():
    with op.batch_alter_table('village', schema=None) as batch_op:
        batch_op.drop_column('retired_on')

    with op.batch_alter_table('town', schema=None) as batch_op:
        batch_op.drop_column('retired_on')

    with op.batch_alter_table('resident', schema=None) as batch_op:
        batch_op.drop_index('uq_resident_head', postgresql_where=sa.text('is_head'), sqlite_where=sa.text('is_head'))
        batch_op.drop_column('left_on')

    with op.batch_alter_table('posting', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_posting_grid_only_for_grid_workers'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_posting_grid_id_grid'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_posting_grid_id'))
        batch_op.drop_column('grid_id')

    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_column('retired_on')

    with op.batch_alter_table('grid', schema=None) as batch_op:
        batch_op.drop_column('retired_on')

    with op.batch_alter_table('cadre', schema=None) as batch_op:
        batch_op.drop_column('retired_on')
