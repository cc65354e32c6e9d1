"""Workspace-database tables kept in step with a dataset's latest version.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "table_follow",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("file", sa.String(length=255), nullable=False),
        sa.Column("table", sa.String(length=63), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("loaded_version_id", sa.Uuid(), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_table_follow_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_table_follow_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["loaded_version_id"],
            ["dataset_version.id"],
            name=op.f("fk_table_follow_loaded_version_id_dataset_version"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_table_follow")),
        sa.UniqueConstraint("workspace_id", "table", name="table_follow_table"),
    )
    op.create_index(
        op.f("ix_table_follow_workspace_id"), "table_follow", ["workspace_id"], unique=False
    )
    op.create_index(
        op.f("ix_table_follow_dataset_id"), "table_follow", ["dataset_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_table_follow_dataset_id"), table_name="table_follow")
    op.drop_index(op.f("ix_table_follow_workspace_id"), table_name="table_follow")
    op.drop_table("table_follow")
