"""Resource limits per pipeline (set by workspace admins) and a disk quota per workspace.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pipeline", schema=None) as batch_op:
        batch_op.add_column(sa.Column("limits", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quota_mb", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("workspace", schema=None) as batch_op:
        batch_op.drop_column("quota_mb")
    with op.batch_alter_table("pipeline", schema=None) as batch_op:
        batch_op.drop_column("limits")
