"""Binding for every family member and cadre invitations: user_account.bound_at (when a phone bound its
household) and cadre_invitation (one-time codes, kept as keyed hashes, with which a cadre's WeChat becomes that
cadre's login)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 20:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('cadre_invitation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('cadre_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('used_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cadre_id'], ['cadre.id'], name=op.f('fk_cadre_invitation_cadre_id_cadre')),
    sa.ForeignKeyConstraint(['created_by_id'], ['user_account.id'], name=op.f('fk_cadre_invitation_created_by_id_user_account')),
    sa.ForeignKeyConstraint(['used_by_id'], ['user_account.id'], name=op.f('fk_cadre_invitation_used_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cadre_invitation')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_cadre_invitation_code_hash'))
    )
    with op.batch_alter_table('cadre_invitation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cadre_invitation_cadre_id'), ['cadre_id'], unique=False)

    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bound_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('bound_at')

    with op.batch_alter_table('cadre_invitation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cadre_invitation_cadre_id'))

    op.drop_table('cadre_invitation')
