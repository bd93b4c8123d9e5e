"""create the editor tables"""

import sqlalchemy as sa
from alembic import op

revision = "editor_0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "editor_brand_kit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_brand_kit")),
    )
    op.create_table(
        "editor_saved_block",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_saved_block")),
        sa.UniqueConstraint("name", name=op.f("uq_editor_saved_block_name")),
    )
    op.create_table(
        "editor_template",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("name_key", sa.String(length=200), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("thumbnail_path", sa.String(length=500), nullable=True),
        sa.Column("thumbnail_version", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_template")),
        sa.UniqueConstraint("name", name=op.f("uq_editor_template_name")),
        sa.UniqueConstraint("name_key", name=op.f("uq_editor_template_name_key")),
    )
    op.create_table(
        "editor_template_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("template_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("html", sa.Text(), nullable=True),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["editor_template.id"],
            name=op.f("fk_editor_template_version_template_id_editor_template"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_editor_template_version")),
        sa.UniqueConstraint("template_id", "version", name=op.f("uq_editor_template_version_template_id_version")),
    )
    with op.batch_alter_table("editor_template_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_editor_template_version_template_id"), ["template_id"], unique=False)
