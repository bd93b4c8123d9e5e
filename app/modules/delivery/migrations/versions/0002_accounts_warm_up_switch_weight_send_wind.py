"""accounts: warm-up switch, weight, send window; runs: several accounts"""

import sqlalchemy as sa
from alembic import op

revision = "delivery_0002"
down_revision = 'delivery_0001'


def upgrade() -> None:
    with op.batch_alter_table('delivery_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('warmup', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('weight', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('send_window', sa.JSON(), nullable=True))

    with op.batch_alter_table('delivery_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('account_ids', sa.JSON(), nullable=True))

