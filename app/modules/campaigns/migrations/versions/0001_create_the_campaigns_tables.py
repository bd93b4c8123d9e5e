"""create the campaigns tables"""

import sqlalchemy as sa
from alembic import op

revision = "campaigns_0001"
down_revision = None


def upgrade() -> None:
    op.create_table('campaigns_automation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=10), server_default='draft', nullable=False),
    sa.Column('trigger', sa.JSON(), nullable=False),
    sa.Column('graph', sa.JSON(), nullable=False),
    sa.Column('reentry', sa.String(length=10), server_default='once', nullable=False),
    sa.Column('reentry_days', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns_automation')),
    sa.UniqueConstraint('name_key', name=op.f('uq_campaigns_automation_name_key'))
    )
    op.create_table('campaigns_campaign',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('state', sa.String(length=12), server_default='draft', nullable=False),
    sa.Column('state_reason', sa.Text(), server_default='', nullable=False),
    sa.Column('audience', sa.JSON(), nullable=False),
    sa.Column('identity_id', sa.Integer(), nullable=True),
    sa.Column('account_ids', sa.JSON(), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.Text(), server_default='', nullable=False),
    sa.Column('preheader', sa.Text(), server_default='', nullable=False),
    sa.Column('track_opens', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('track_clicks', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('utm', sa.JSON(), nullable=False),
    sa.Column('schedule_kind', sa.String(length=10), server_default='none', nullable=False),
    sa.Column('send_at', sa.DateTime(), nullable=True),
    sa.Column('time_zone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('rrule', sa.Text(), server_default='', nullable=False),
    sa.Column('dtstart', sa.DateTime(), nullable=True),
    sa.Column('local_time', sa.String(length=5), server_default='', nullable=False),
    sa.Column('local_date', sa.Date(), nullable=True),
    sa.Column('default_time_zone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('next_run_at', sa.DateTime(), nullable=True),
    sa.Column('missed_at', sa.DateTime(), nullable=True),
    sa.Column('ab', sa.JSON(), nullable=False),
    sa.Column('resend', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns_campaign')),
    sa.UniqueConstraint('name_key', name=op.f('uq_campaigns_campaign_name_key'))
    )
    with op.batch_alter_table('campaigns_campaign', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaigns_campaign_next_run_at'), ['next_run_at'], unique=False)

    op.create_table('campaigns_enrollment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('automation_id', sa.Integer(), nullable=False),
    sa.Column('contact_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=10), server_default='active', nullable=False),
    sa.Column('step_id', sa.String(length=64), server_default='', nullable=False),
    sa.Column('step_seq', sa.Integer(), server_default='0', nullable=False),
    sa.Column('wake_at', sa.Float(), server_default='0', nullable=False),
    sa.Column('test', sa.Boolean(), server_default='0', nullable=False),
    sa.Column('entered_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('trigger_key', sa.String(length=200), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['automation_id'], ['campaigns_automation.id'], name=op.f('fk_campaigns_enrollment_automation_id_campaigns_automation'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns_enrollment')),
    sa.UniqueConstraint('automation_id', 'trigger_key', name=op.f('uq_campaigns_enrollment_automation_id_trigger_key'))
    )
    with op.batch_alter_table('campaigns_enrollment', schema=None) as batch_op:
        batch_op.create_index('ix_campaigns_enrollment_contact', ['automation_id', 'contact_id'], unique=False)
        batch_op.create_index('ix_campaigns_enrollment_due', ['state', 'wake_at'], unique=False)

    op.create_table('campaigns_send',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('variant', sa.String(length=16), server_default='', nullable=False),
    sa.Column('slot', sa.String(length=80), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('error', sa.Text(), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns_campaign.id'], name=op.f('fk_campaigns_send_campaign_id_campaigns_campaign'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns_send')),
    sa.UniqueConstraint('campaign_id', 'slot', name=op.f('uq_campaigns_send_campaign_id_slot'))
    )
    op.create_table('campaigns_enrollment_step',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('step_id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('result', sa.Text(), server_default='', nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('done_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['campaigns_enrollment.id'], name=op.f('fk_campaigns_enrollment_step_enrollment_id_campaigns_enrollment'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns_enrollment_step')),
    sa.UniqueConstraint('enrollment_id', 'seq', name=op.f('uq_campaigns_enrollment_step_enrollment_id_seq'))
    )
