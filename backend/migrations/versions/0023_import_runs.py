"""import_run: an Excel import's uploaded file, its dry-run preview and problems, and its progress

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 20:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'import_run',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=False),
        sa.Column('town_id', sa.Integer(), nullable=True),
        sa.Column('file_name', sa.String(length=200), nullable=False),
        sa.Column('file_data', sa.LargeBinary(), nullable=False),
        sa.Column('status', sa.Enum('checking', 'ready', 'invalid', 'applying', 'applied', 'failed', name='import_status', native_enum=False, create_constraint=True, length=20), nullable=False),
        sa.Column('progress', sa.Integer(), nullable=False),
        sa.Column('counts', sa.JSON(), nullable=False),
        sa.Column('preview', sa.JSON(), nullable=False),
        sa.Column('problems', sa.JSON(), nullable=False),
        sa.Column('problem_count', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=200), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['county_id'], ['county.id'], name=op.f('fk_import_run_county_id_county')),
        sa.ForeignKeyConstraint(['town_id'], ['town.id'], name=op.f('fk_import_run_town_id_town')),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_import_run_user_id_user_account')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_run')),
    )
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.create_index('ix_import_run_county_created', ['county_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_run_town_id'), ['town_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_import_run_user_id'), ['user_id'], unique=False)


def downgrade():
    with op.batch_alter_table('import_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_run_user_id'))
        batch_op.drop_index(batch_op.f('ix_import_run_town_id'))
        batch_op.drop_index('ix_import_run_county_created')
    op.drop_table('import_run')
