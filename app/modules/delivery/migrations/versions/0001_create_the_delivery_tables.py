"""create the delivery tables"""

import sqlalchemy as sa
from alembic import op

revision = "delivery_0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "delivery_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=253), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("tls", sa.String(length=8), nullable=False),
        sa.Column("username", sa.String(length=320), server_default="", nullable=False),
        sa.Column("per_second", sa.Float(), nullable=True),
        sa.Column("per_hour", sa.Integer(), nullable=True),
        sa.Column("per_day", sa.Integer(), nullable=True),
        sa.Column("connections", sa.Integer(), server_default="4", nullable=False),
        sa.Column("warmup_started_on", sa.Date(), nullable=True),
        sa.Column("enabled", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("is_local_outbox", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_account")),
        sa.UniqueConstraint("name", name=op.f("uq_delivery_account_name")),
    )
    op.create_table(
        "delivery_dkim_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("selector", sa.String(length=63), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_dkim_key")),
        sa.UniqueConstraint("domain", "selector", name=op.f("uq_delivery_dkim_key_domain_selector")),
    )
    op.create_table(
        "delivery_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("from_email", sa.String(length=320), nullable=False),
        sa.Column("reply_to", sa.String(length=320), server_default="", nullable=False),
        sa.Column("postal_address", sa.Text(), server_default="", nullable=False),
        sa.Column("bounce_address", sa.String(length=320), server_default="", nullable=False),
        sa.Column("dkim_selector", sa.String(length=63), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_identity")),
    )
    op.create_table(
        "delivery_outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("mail_from", sa.String(length=512), server_default="", nullable=False),
        sa.Column("rcpt_to", sa.Text(), server_default="", nullable=False),
        sa.Column("subject", sa.Text(), server_default="", nullable=False),
        sa.Column("size", sa.Integer(), server_default="0", nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_outbox_message")),
    )
    with op.batch_alter_table("delivery_outbox_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_outbox_message_received_at"), ["received_at"], unique=False)

    op.create_table(
        "delivery_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("version_key", sa.String(length=128), server_default="", nullable=False),
        sa.Column("state", sa.String(length=12), server_default="queued", nullable=False),
        sa.Column("pause_reason", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("audience_checkpoint", sa.Integer(), server_default="0", nullable=False),
        sa.Column("audience_done", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("audience_total", sa.Integer(), nullable=True),
        sa.Column("nonce", sa.String(length=16), server_default="", nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["delivery_account.id"], name=op.f("fk_delivery_run_account_id_delivery_account")
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"], ["delivery_identity.id"], name=op.f("fk_delivery_run_identity_id_delivery_identity")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_run")),
    )
    with op.batch_alter_table("delivery_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_run_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index("ix_delivery_run_state", ["state", "id"], unique=False)

    op.create_table(
        "delivery_recipient",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=10), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.Float(), server_default="0", nullable=False),
        sa.Column("first_attempt_at", sa.Float(), nullable=True),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("reply_code", sa.Integer(), nullable=True),
        sa.Column("reply_text", sa.Text(), server_default="", nullable=False),
        sa.Column("outcome", sa.String(length=16), server_default="", nullable=False),
        sa.Column("message_id", sa.String(length=200), server_default="", nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("report_pending", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["delivery_run.id"], name=op.f("fk_delivery_recipient_run_id_delivery_run"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_recipient")),
        sa.UniqueConstraint("run_id", "contact_id", name=op.f("uq_delivery_recipient_run_id_contact_id")),
    )
    with op.batch_alter_table("delivery_recipient", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_recipient_account_time", ["account_id", "finished_at"], unique=False)
        batch_op.create_index(
            "ix_delivery_recipient_report",
            ["report_pending", "id"],
            unique=False,
            sqlite_where=sa.text("report_pending > 0"),
            postgresql_where=sa.text("report_pending > 0"),
        )
        batch_op.create_index(
            "ix_delivery_recipient_run_state", ["run_id", "state", "next_attempt_at", "id"], unique=False
        )
