"""Workspace databases on PostgreSQL: names, sealed role passwords, readiness.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspace_database",
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("database", sa.String(length=63), nullable=False),
        sa.Column("owner", sa.String(length=63), nullable=False),
        sa.Column("reader", sa.String(length=63), nullable=False),
        sa.Column("passwords_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("ready_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("postgis", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_workspace_database_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("workspace_id", name=op.f("pk_workspace_database")),
        sa.UniqueConstraint("database", name=op.f("uq_workspace_database_database")),
    )


def downgrade() -> None:
    op.drop_table("workspace_database")
