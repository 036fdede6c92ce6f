"""audit_entry: the audit log of changes to the region tree, its people and accounts

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 20:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'audit_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_label', sa.String(length=64), nullable=False),
        sa.Column('county_id', sa.Integer(), nullable=True),
        sa.Column('town_id', sa.Integer(), nullable=True),
        sa.Column('village_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('target_type', sa.String(length=30), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=True),
        sa.Column('summary', sa.String(length=200), nullable=False),
        sa.Column('changes', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['user_account.id'], name=op.f('fk_audit_entry_actor_id_user_account')),
        sa.ForeignKeyConstraint(['county_id'], ['county.id'], name=op.f('fk_audit_entry_county_id_county')),
        sa.ForeignKeyConstraint(['town_id'], ['town.id'], name=op.f('fk_audit_entry_town_id_town')),
        sa.ForeignKeyConstraint(['village_id'], ['village.id'], name=op.f('fk_audit_entry_village_id_village')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_entry')),
    )
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entry_actor_id'), ['actor_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_town_id'), ['town_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entry_village_id'), ['village_id'], unique=False)
        batch_op.create_index('ix_audit_entry_county_at', ['county_id', 'at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_county_at')
        batch_op.drop_index(batch_op.f('ix_audit_entry_village_id'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_town_id'))
        batch_op.drop_index(batch_op.f('ix_audit_entry_actor_id'))
    op.drop_table('audit_entry')
