"""index automation steps by delivery run"""

from alembic import op

revision = "campaigns_0002"
down_revision = 'campaigns_0001'


def upgrade() -> None:
    with op.batch_alter_table('campaigns_enrollment_step', schema=None) as batch_op:
        batch_op.create_index('ix_campaigns_enrollment_step_run', ['run_id'], unique=False)

