"""report aggregates: campaigns, runs, recipients, hours, links, clients, bounces, conversions, list growth"""

import sqlalchemy as sa
from alembic import op

revision = "stats_0002"
down_revision = 'stats_0001'


def upgrade() -> None:
    op.create_table('stats_automation',
    sa.Column('automation_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=300), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('automation_id', name=op.f('pk_stats_automation'))
    )
    op.create_table('stats_bounce',
    sa.Column('uid', sa.String(length=100), nullable=False),
    sa.Column('run_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('who', sa.String(length=330), nullable=False),
    sa.Column('domain', sa.String(length=255), server_default='', nullable=False),
    sa.Column('synchronous', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('uid', name=op.f('pk_stats_bounce')),
    sa.UniqueConstraint('run_id', 'kind', 'who', name='uq_stats_bounce_run_kind_who')
    )
    op.create_table('stats_campaign',
    sa.Column('campaign_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('name', sa.String(length=300), server_default='', nullable=False),
    sa.Column('state', sa.String(length=20), server_default='', nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('campaign_id', name=op.f('pk_stats_campaign'))
    )
    op.create_table('stats_client',
    sa.Column('run_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('client', sa.String(length=60), nullable=False),
    sa.Column('device', sa.String(length=20), nullable=False),
    sa.Column('opens_h', sa.Integer(), server_default='0', nullable=False),
    sa.Column('opens_m', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'client', 'device', name=op.f('pk_stats_client')),
    sqlite_with_rowid=False,  # upserted by key only: one B-tree, not two
    )
    op.create_table('stats_conversion',
    sa.Column('uid', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('email', sa.String(length=320), server_default='', nullable=False),
    sa.Column('contact_id', sa.BigInteger(), nullable=True),
    sa.Column('run_id', sa.BigInteger(), nullable=True),
    sa.Column('campaign_id', sa.BigInteger(), nullable=True),
    sa.Column('automation_id', sa.BigInteger(), nullable=True),
    sa.Column('value', sa.Float(), server_default='0', nullable=False),
    sa.Column('currency', sa.String(length=8), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('uid', name=op.f('pk_stats_conversion'))
    )
    with op.batch_alter_table('stats_conversion', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stats_conversion_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_stats_conversion_run_id'), ['run_id'], unique=False)

    op.create_table('stats_hour',
    sa.Column('run_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hour', sa.DateTime(), nullable=False),
    sa.Column('opens_h', sa.Integer(), server_default='0', nullable=False),
    sa.Column('opens_m', sa.Integer(), server_default='0', nullable=False),
    sa.Column('clicks_h', sa.Integer(), server_default='0', nullable=False),
    sa.Column('clicks_m', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'hour', name=op.f('pk_stats_hour')),
    sqlite_with_rowid=False,  # upserted by key only: one B-tree, not two
    )
    op.create_table('stats_link_clicks',
    sa.Column('run_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('link_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('url', sa.Text(), server_default='', nullable=False),
    sa.Column('clicks_h', sa.Integer(), server_default='0', nullable=False),
    sa.Column('clicks_m', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'link_id', name=op.f('pk_stats_link_clicks')),
    sqlite_with_rowid=False,  # upserted by key only: one B-tree, not two
    )
    op.create_table('stats_link_person',
    sa.Column('run_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('link_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('contact_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('human', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('run_id', 'link_id', 'contact_id', name=op.f('pk_stats_link_person')),
    sqlite_with_rowid=False,  # upserted by key only: one B-tree, not two
    )
    op.create_table('stats_list_day',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('subscribed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('unsubscribed', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('day', name=op.f('pk_stats_list_day'))
    )
    op.create_table('stats_recipient',
    sa.Column('run_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('contact_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('domain', sa.String(length=255), server_default='', nullable=False),
    sa.Column('outcome', sa.String(length=16), server_default='', nullable=False),
    sa.Column('opens_h', sa.Integer(), server_default='0', nullable=False),
    sa.Column('opens_m', sa.Integer(), server_default='0', nullable=False),
    sa.Column('clicks_h', sa.Integer(), server_default='0', nullable=False),
    sa.Column('clicks_m', sa.Integer(), server_default='0', nullable=False),
    sa.Column('first_open_h', sa.DateTime(), nullable=True),
    sa.Column('first_open_any', sa.DateTime(), nullable=True),
    sa.Column('first_click_h', sa.DateTime(), nullable=True),
    sa.Column('first_click_any', sa.DateTime(), nullable=True),
    sa.Column('last_click_h', sa.DateTime(), nullable=True),
    sa.Column('unsubscribed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('run_id', 'contact_id', name=op.f('pk_stats_recipient')),
    sqlite_with_rowid=False,  # upserted by key only: one B-tree, not two
    )
    with op.batch_alter_table('stats_recipient', schema=None) as batch_op:
        batch_op.create_index('ix_stats_recipient_contact_click', ['contact_id', 'last_click_h'], unique=False)

    op.create_table('stats_run',
    sa.Column('run_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=True),
    sa.Column('automation_id', sa.BigInteger(), nullable=True),
    sa.Column('variant', sa.String(length=20), server_default='', nullable=False),
    sa.Column('subject', sa.String(length=500), server_default='', nullable=False),
    sa.Column('state', sa.String(length=20), server_default='', nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('sent', sa.Integer(), server_default='0', nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('recipients_synced', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('run_id', name=op.f('pk_stats_run'))
    )
    with op.batch_alter_table('stats_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stats_run_campaign_id'), ['campaign_id'], unique=False)

