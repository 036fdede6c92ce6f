"""for the monthly ratings compile: indexes it reads alone (ledger entries by village, month, kind and
household; households by village and id) and lz4 compression of the results' detail on PostgreSQL

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 15:40:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entry_village_month')
        batch_op.create_index('ix_ledger_entry_village_month', ['village_id', 'month', 'kind', 'household_id'], unique=False)

    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index('ix_household_village_id')
        batch_op.create_index('ix_household_village_id', ['village_id', 'id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE rating_result ALTER COLUMN detail SET COMPRESSION lz4')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE rating_result ALTER COLUMN detail SET COMPRESSION pglz')

    with op.batch_alter_table('household', schema=None) as batch_op:
        batch_op.drop_index('ix_household_village_id')
        batch_op.create_index('ix_household_village_id', ['village_id'], unique=False)

    with op.batch_alter_table('ledger_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_ledger_entry_village_month')
        batch_op.create_index('ix_ledger_entry_village_month', ['village_id', 'month'], unique=False)
