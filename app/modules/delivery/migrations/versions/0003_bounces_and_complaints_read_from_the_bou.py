"""bounces and complaints read from the bounce mailbox"""

import sqlalchemy as sa
from alembic import op

revision = "delivery_0003"
down_revision = 'delivery_0002'


def upgrade() -> None:
    op.create_table('delivery_bounce',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('report_key', sa.String(length=64), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('status', sa.String(length=32), server_default='', nullable=False),
    sa.Column('action', sa.String(length=16), server_default='', nullable=False),
    sa.Column('diagnostic', sa.Text(), server_default='', nullable=False),
    sa.Column('matched_by', sa.String(length=12), server_default='', nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('recipient_id', sa.Integer(), nullable=True),
    sa.Column('contact_id', sa.Integer(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('suppressed', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('reported_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_delivery_bounce')),
    sa.UniqueConstraint('report_key', 'email', name=op.f('uq_delivery_bounce_report_key_email'))
    )
    with op.batch_alter_table('delivery_bounce', schema=None) as batch_op:
        batch_op.create_index('ix_delivery_bounce_email_kind', ['email', 'kind'], unique=False)

