"""Dataset profiles (by content), shares with other workspaces, dataset tokens, the access
log, and dataset triggers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 01:49:34.171607
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "table_profile",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=True),
        sa.Column("profile", sa.JSON(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_table_profile")),
    )
    with op.batch_alter_table("table_profile", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_table_profile_state"), ["state"], unique=False)

    # Tables stored before profiling existed get profiled too.
    op.execute(
        sa.text(
            "INSERT INTO table_profile (sha256, kind, state, progress, error, updated_at) "
            "SELECT sha256, min(kind), 'pending', 0, '', :now FROM dataset_file "
            "WHERE kind <> 'file' GROUP BY sha256"
        ).bindparams(sa.bindparam("now", datetime.now(UTC), type_=sa.DateTime(timezone=True)))
    )

    op.create_table(
        "dataset_access",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("version_name", sa.String(length=200), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reader_workspace_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("via", sa.String(length=255), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("client_ip", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_dataset_access_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["reader_workspace_id"],
            ["workspace.id"],
            name=op.f("fk_dataset_access_reader_workspace_id_workspace"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_dataset_access_user_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_access")),
    )
    with op.batch_alter_table("dataset_access", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dataset_access_at"), ["at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_dataset_access_dataset_id"), ["dataset_id"], unique=False
        )

    op.create_table(
        "dataset_share",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_dataset_share_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_dataset_share_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspace.id"],
            name=op.f("fk_dataset_share_workspace_id_workspace"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_share")),
        sa.UniqueConstraint("dataset_id", "workspace_id", name="dataset_share_dataset_workspace"),
    )
    with op.batch_alter_table("dataset_share", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_share_workspace_id"), ["workspace_id"], unique=False
        )

    op.create_table(
        "dataset_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["user_account.id"],
            name=op.f("fk_dataset_token_created_by_id_user_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_dataset_token_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_dataset_token_token_hash")),
    )
    with op.batch_alter_table("dataset_token", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_token_dataset_id"), ["dataset_id"], unique=False
        )

    op.create_table(
        "dataset_trigger",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("pipeline_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("parameters", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["dataset_id"],
            ["dataset.id"],
            name=op.f("fk_dataset_trigger_dataset_id_dataset"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pipeline_id"],
            ["pipeline.id"],
            name=op.f("fk_dataset_trigger_pipeline_id_pipeline"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_trigger")),
        sa.UniqueConstraint("pipeline_id", "dataset_id", name="dataset_trigger_pipeline_dataset"),
    )
    with op.batch_alter_table("dataset_trigger", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_dataset_trigger_dataset_id"), ["dataset_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dataset_trigger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_trigger_dataset_id"))

    op.drop_table("dataset_trigger")
    with op.batch_alter_table("dataset_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_token_dataset_id"))

    op.drop_table("dataset_token")
    with op.batch_alter_table("dataset_share", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_share_workspace_id"))

    op.drop_table("dataset_share")
    with op.batch_alter_table("dataset_access", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dataset_access_dataset_id"))
        batch_op.drop_index(batch_op.f("ix_dataset_access_at"))

    op.drop_table("dataset_access")
    with op.batch_alter_table("table_profile", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_table_profile_state"))

    op.drop_table("table_profile")
