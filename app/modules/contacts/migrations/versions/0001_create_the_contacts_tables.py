"""create the contacts tables"""

import sqlalchemy as sa
from alembic import op

revision = "contacts_0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "contacts_contact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("email_key", sa.String(length=320), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("first_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("last_name", sa.String(length=200), server_default="", nullable=False),
        sa.Column("language", sa.String(length=35), server_default="", nullable=False),
        sa.Column("time_zone", sa.String(length=64), server_default="", nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_open_at", sa.DateTime(), nullable=True),
        sa.Column("last_click_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_contact")),
        sa.UniqueConstraint("email_key", name=op.f("uq_contacts_contact_email_key")),
    )
    with op.batch_alter_table("contacts_contact", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_contact_created_at", ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_contacts_contact_email_hash"), ["email_hash"], unique=False)
        batch_op.create_index("ix_contacts_contact_last_click_at", ["last_click_at"], unique=False)
        batch_op.create_index("ix_contacts_contact_last_open_at", ["last_open_at"], unique=False)

    op.create_table(
        "contacts_field",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_field")),
        sa.UniqueConstraint("key", name=op.f("uq_contacts_field_key")),
    )
    op.create_table(
        "contacts_import",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file_name", sa.String(length=500), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_committed", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_import")),
    )
    op.create_table(
        "contacts_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("double_opt_in", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_list")),
        sa.UniqueConstraint("name", name=op.f("uq_contacts_list_name")),
    )
    op.create_table(
        "contacts_segment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_segment")),
        sa.UniqueConstraint("name", name=op.f("uq_contacts_segment_name")),
    )
    op.create_table(
        "contacts_suppression",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_suppression")),
        sa.UniqueConstraint("email_hash", name=op.f("uq_contacts_suppression_email_hash")),
    )
    op.create_table(
        "contacts_tag",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_tag")),
        sa.UniqueConstraint("name", name=op.f("uq_contacts_tag_name")),
    )
    op.create_table(
        "contacts_activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contact.id"],
            name=op.f("fk_contacts_activity_contact_id_contacts_contact"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_activity")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_contacts_activity_dedupe_key")),
    )
    with op.batch_alter_table("contacts_activity", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_activity_contact_time", ["contact_id", "occurred_at"], unique=False)
        batch_op.create_index(
            "ix_contacts_activity_kind_name", ["kind", "name", "contact_id", "occurred_at"], unique=False
        )

    op.create_table(
        "contacts_consent",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("purpose", sa.String(length=200), server_default="", nullable=False),
        sa.Column("given_at", sa.DateTime(), nullable=False),
        sa.Column("source", sa.String(length=200), server_default="", nullable=False),
        sa.Column("method", sa.String(length=64), server_default="", nullable=False),
        sa.Column("text_version", sa.String(length=200), server_default="", nullable=False),
        sa.Column("evidence", sa.Text(), server_default="", nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contact.id"],
            name=op.f("fk_contacts_consent_contact_id_contacts_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["contacts_list.id"],
            name=op.f("fk_contacts_consent_list_id_contacts_list"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts_consent")),
    )
    with op.batch_alter_table("contacts_consent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_consent_contact_id"), ["contact_id"], unique=False)

    op.create_table(
        "contacts_contact_tag",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contact.id"],
            name=op.f("fk_contacts_contact_tag_contact_id_contacts_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tag_id"],
            ["contacts_tag.id"],
            name=op.f("fk_contacts_contact_tag_tag_id_contacts_tag"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "tag_id", name=op.f("pk_contacts_contact_tag")),
    )
    with op.batch_alter_table("contacts_contact_tag", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_contact_tag_tag", ["tag_id", "contact_id"], unique=False)

    op.create_table(
        "contacts_subscription",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts_contact.id"],
            name=op.f("fk_contacts_subscription_contact_id_contacts_contact"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["contacts_list.id"],
            name=op.f("fk_contacts_subscription_list_id_contacts_list"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", "list_id", name=op.f("pk_contacts_subscription")),
    )
    with op.batch_alter_table("contacts_subscription", schema=None) as batch_op:
        batch_op.create_index("ix_contacts_subscription_list_status", ["list_id", "status", "contact_id"], unique=False)
