"""user_account.display_name encrypted at rest like every other name (a cadre's account carries their real
name; the cadre table already encrypted it): the names are re-encrypted in place with the data key.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 18:30:00

"""
from alembic import op
import sqlalchemy as sa

from backend.crypto import keyring


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

users = sa.table(
    'user_account',
    sa.column('id', sa.Integer),
    sa.column('display_name', sa.String),
    sa.column('display_name_sealed', sa.LargeBinary),
)


def upgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name_sealed', sa.LargeBinary(), nullable=True))
    conn = op.get_bind()
    for user_id, name in conn.execute(sa.select(users.c.id, users.c.display_name)).all():
        conn.execute(
            users.update().where(users.c.id == user_id).values(display_name_sealed=keyring.encrypt(name or ''))
        )
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('display_name')
        batch_op.alter_column('display_name_sealed', new_column_name='display_name', nullable=False)


def downgrade():
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('display_name_plain', sa.String(length=60), nullable=True))
    plain = sa.table('user_account', sa.column('id', sa.Integer), sa.column('display_name', sa.LargeBinary),
                     sa.column('display_name_plain', sa.String))
    conn = op.get_bind()
    for user_id, sealed in conn.execute(sa.select(plain.c.id, plain.c.display_name)).all():
        conn.execute(plain.update().where(plain.c.id == user_id).values(display_name_plain=keyring.decrypt(bytes(sealed))[:60]))
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('display_name')
        batch_op.alter_column('display_name_plain', new_column_name='display_name', nullable=False)
