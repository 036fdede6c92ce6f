"""lighter writes for the ratings compile: the compiled tables (results, alerts, 整改 items) keep the foreign key
to their village but not to the county, town and run they copy; 整改 items lose the village index their natural
key's unique index already gives; the results leave room on each page for the finish to rank them in place; on
PostgreSQL a run's digest is compressed with lz4

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25 20:30:00

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rating_result', schema=None) as batch_op:
        batch_op.drop_constraint('fk_rating_result_county_id_county', type_='foreignkey')
        batch_op.drop_constraint('fk_rating_result_town_id_town', type_='foreignkey')
        batch_op.drop_constraint('fk_rating_result_run_id_compile_run', type_='foreignkey')
    with op.batch_alter_table('rating_alert', schema=None) as batch_op:
        batch_op.drop_constraint('fk_rating_alert_county_id_county', type_='foreignkey')
    with op.batch_alter_table('rectification', schema=None) as batch_op:
        batch_op.drop_constraint('fk_rectification_county_id_county', type_='foreignkey')
        batch_op.drop_index('ix_rectification_village_id')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE rating_result SET (fillfactor = 60)')
        op.execute('ALTER TABLE compile_run ALTER COLUMN digest SET COMPRESSION lz4')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE compile_run ALTER COLUMN digest SET COMPRESSION pglz')
        op.execute('ALTER TABLE rating_result RESET (fillfactor)')
    with op.batch_alter_table('rectification', schema=None) as batch_op:
        batch_op.create_index('ix_rectification_village_id', ['village_id'], unique=False)
        batch_op.create_foreign_key('fk_rectification_county_id_county', 'county', ['county_id'], ['id'])
    with op.batch_alter_table('rating_alert', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_rating_alert_county_id_county', 'county', ['county_id'], ['id'])
    with op.batch_alter_table('rating_result', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_rating_result_run_id_compile_run', 'compile_run', ['run_id'], ['id'])
        batch_op.create_foreign_key('fk_rating_result_town_id_town', 'town', ['town_id'], ['id'])
        batch_op.create_foreign_key('fk_rating_result_county_id_county', 'county', ['county_id'], ['id'])
