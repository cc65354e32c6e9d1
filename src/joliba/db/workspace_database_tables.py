"""Tables of the metadata database about the workspaces' own databases: their PostgreSQL
names and sealed passwords, saved queries, and tables kept in step with a dataset."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from joliba.db.tables import Base, new_id, utcnow


class WorkspaceDatabase(Base):
    """A workspace's PostgreSQL database on the server of ``JOLIBA_WORKSPACE_DATABASE_URL``:
    its names and its roles' passwords (sealed like connection secrets). The row is what the
    server is made to match (``services/workspace_databases.ensure``): created first, then the
    database and roles, so a failure halfway is finished by the next attempt."""

    __tablename__ = "workspace_database"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspace.id", ondelete="CASCADE"), primary_key=True
    )
    database: Mapped[str] = mapped_column(String(63), unique=True)
    owner: Mapped[str] = mapped_column(String(63))
    reader: Mapped[str] = mapped_column(String(63))
    #: {"owner": password, "reader": password}, sealed by the server's secret box.
    passwords_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    #: None until the server holds the database and roles as this row says.
    ready_at: Mapped[datetime | None] = mapped_column()
    #: Why the last attempt to make it failed (shown to admins; empty once ready).
    error: Mapped[str] = mapped_column(Text, default="")
    postgis: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column()


class SavedQuery(Base):
    """A SQL query of a workspace's database, kept under a name for everyone in it."""

    __tablename__ = "saved_query"
    __table_args__ = (UniqueConstraint("workspace_id", "name", name="workspace_query_name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspace.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    sql: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TableFollow(Base):
    """A table of a workspace's database kept in step with a dataset's latest published
    version: a file of it is loaded again each time a new version is published."""

    __tablename__ = "table_follow"
    __table_args__ = (UniqueConstraint("workspace_id", "table", name="table_follow_table"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspace.id", ondelete="CASCADE"), index=True
    )
    dataset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    file: Mapped[str] = mapped_column(String(255))
    table: Mapped[str] = mapped_column(String(63))
    created_by: Mapped[str] = mapped_column(String(320), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: The version last loaded (None: not yet, or it was deleted).
    loaded_version_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("dataset_version.id", ondelete="SET NULL")
    )
    loaded_at: Mapped[datetime | None] = mapped_column()
    #: Why the last load failed (empty once one succeeds).
    error: Mapped[str] = mapped_column(Text, default="")
