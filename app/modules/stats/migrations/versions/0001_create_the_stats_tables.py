"""create the stats tables"""

import sqlalchemy as sa
from alembic import op

revision = "stats_0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "stats_access_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_access_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_stats_access_token_token_hash")),
    )
    op.create_table(
        "stats_cursor",
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_stats_cursor")),
    )
    op.create_table(
        "stats_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("uid", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("contact_id", sa.BigInteger(), nullable=True),
        sa.Column("link_id", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("user_agent", sa.String(length=400), server_default="", nullable=False),
        sa.Column("ip_class", sa.String(length=64), server_default="", nullable=False),
        sa.Column("machine", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("machine_reason", sa.String(length=32), server_default="", nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_event")),
        sa.UniqueConstraint("uid", name=op.f("uq_stats_event_uid")),
    )
    with op.batch_alter_table("stats_event", schema=None) as batch_op:
        batch_op.create_index("ix_stats_event_kind_time", ["kind", "occurred_at"], unique=False)
        batch_op.create_index("ix_stats_event_run_kind", ["run_id", "kind"], unique=False)

    op.create_table(
        "stats_link",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("url_hash", sa.String(length=64), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_link")),
        sa.UniqueConstraint("run_id", "url_hash", name="uq_stats_link_run_url"),
    )
    op.create_table(
        "stats_list_name",
        sa.Column("list_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("list_id", name=op.f("pk_stats_list_name")),
    )
    op.create_table(
        "stats_remote_key",
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("retired_at", sa.BigInteger(), nullable=True),
        sa.Column("current", sa.Boolean(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_stats_remote_key")),
    )
    op.create_table(
        "stats_webview",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=False),
        sa.Column("contact_id", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("stored_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stats_webview")),
        sa.UniqueConstraint("run_id", "contact_id", name="uq_stats_webview_run_contact"),
    )
    op.create_table(
        "stats_webview_base",
        sa.Column("run_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("dictionary", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_stats_webview_base")),
    )
