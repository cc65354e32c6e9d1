"""Tables of the metadata database (SQLAlchemy 2 declarative, names singular)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way out, on SQLite (naive storage) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        datetime: UTCDateTime,
        dict[str, Any]: JSON,
        list[dict[str, Any]]: JSON,
        list[str]: JSON,
    }


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class UserSession(Base):
    """A browser session; the cookie holds a random id, the table only its hash."""

    __tablename__ = "user_session"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]

    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspace.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship(lazy="joined")
    workspace: Mapped[Workspace | None] = relationship(lazy="joined")


class Workspace(Base):
    __tablename__ = "workspace"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    archived: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Disk quota of the workspace's files in MiB; None: the instance default.
    quota_mb: Mapped[int | None] = mapped_column(Integer)


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", name="workspace_user"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")
    workspace: Mapped[Workspace] = relationship(lazy="joined")


class Invitation(Base):
    __tablename__ = "invitation"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspace.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    workspace: Mapped[Workspace] = relationship(lazy="joined")


class Connection(Base):
    __tablename__ = "connection"
    __table_args__ = (UniqueConstraint("workspace_id", "slug", name="workspace_slug"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    #: Plain fields, as a JSON object of strings.
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Secret fields: a Fernet token of a JSON object, never sent to clients.
    secrets_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    #: Names of the secret fields that hold a value (so pages can show a mask).
    secret_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )


class AuditEntry(Base):
    """Append-only: the migration adds triggers that refuse UPDATE and DELETE."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_workspace_at", "workspace_id", "at"),
        Index("ix_audit_entry_action_at", "action", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[uuid.UUID | None] = mapped_column()
    actor_email: Mapped[str] = mapped_column(String(320), default="")
    token_id: Mapped[uuid.UUID | None] = mapped_column()
    workspace_id: Mapped[uuid.UUID | None] = mapped_column()
    target: Mapped[str] = mapped_column(String(1024), default="")
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Pipeline(Base):
    __tablename__ = "pipeline"
    __table_args__ = (UniqueConstraint("workspace_id", "code", name="workspace_code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: SHA-256 of the secret in the webhook URL; None when the webhook is off.
    webhook_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    #: Resource limits that replace the instance's for this pipeline's runs (by limit name).
    limits: Mapped[dict[str, int]] = mapped_column(JSON, default=dict, server_default="{}")


class PipelineVersion(Base):
    """Immutable once created: the code archive, its parameter spec and its policy."""

    __tablename__ = "pipeline_version"
    __table_args__ = (UniqueConstraint("pipeline_id", "number", name="pipeline_number"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")
    #: The zip archive, content-addressed, under pipelines/ in the object store.
    archive_sha256: Mapped[str] = mapped_column(String(64))
    archive_size: Mapped[int] = mapped_column(BigInteger)
    #: SHA-256 of the normalised requirements.txt ("" when there is none).
    requirements_sha256: Mapped[str] = mapped_column(String(64), default="")
    function: Mapped[str] = mapped_column(String(200))
    parameters: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    timeout_seconds: Mapped[int | None] = mapped_column(Integer)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    retry_delay_seconds: Mapped[float] = mapped_column(Float, default=60.0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    pipeline: Mapped[Pipeline] = relationship(lazy="joined")


class PipelineRun(Base):
    __tablename__ = "pipeline_run"
    __table_args__ = (
        Index("ix_pipeline_run_state_not_before", "state", "not_before"),
        Index("ix_pipeline_run_pipeline_queued_at", "pipeline_id", "queued_at"),
        Index("ix_pipeline_run_workspace_queued_at", "workspace_id", "queued_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pipeline_version.id", ondelete="CASCADE")
    )
    state: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(16))
    #: What triggered it, for people: a schedule's cron, the upstream run id, "webhook"…
    trigger_detail: Mapped[str] = mapped_column(String(200), default="")
    triggered_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    #: Validated values; secret parameters hold {"encrypted": <Fernet token>}.
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    retry_of_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("pipeline_run.id", ondelete="SET NULL")
    )
    timeout_seconds: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: Not started before this time (retry backoff).
    not_before: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    #: The lease: which executor holds the run, and when it last said it was alive.
    executor: Mapped[str] = mapped_column(String(100), default="")
    heartbeat_at: Mapped[datetime | None]
    cancel_requested_at: Mapped[datetime | None]
    progress: Mapped[int | None] = mapped_column(Integer)
    progress_message: Mapped[str] = mapped_column(String(500), default="")
    exit_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str] = mapped_column(Text, default="")
    #: SHA-256 of the run token given to the run's process, valid while it runs.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    pipeline: Mapped[Pipeline] = relationship(lazy="joined")
    version: Mapped[PipelineVersion] = relationship(lazy="joined")


class RunLog(Base):
    __tablename__ = "run_log"
    __table_args__ = (Index("ix_run_log_run_id_id", "run_id", "id"),)

    # An increasing integer: the cursor that live log views resume from.
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    run_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipeline_run.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    stream: Mapped[str] = mapped_column(String(8))
    level: Mapped[str] = mapped_column(String(8), default="info")
    message: Mapped[str] = mapped_column(Text)


class RunOutput(Base):
    __tablename__ = "run_output"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pipeline_run.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # file | table | dataset
    uri: Mapped[str] = mapped_column(String(1024))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PipelineSchedule(Base):
    __tablename__ = "pipeline_schedule"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    pipeline_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pipeline.id", ondelete="CASCADE"), index=True
    )
    cron: Mapped[str] = mapped_column(String(100))
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: "skip" records a skipped run while one is queued or running; "queue" queues anyway.
    overlap: Mapped[str] = mapped_column(String(8), default="skip")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The next slot (UTC); servers claim a slot by moving it forward, so it fires once.
    next_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )


class PipelineRecipient(Base):
    __tablename__ = "pipeline_recipient"
    __table_args__ = (UniqueConstraint("pipeline_id", "user_id", name="pipeline_user"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    #: "failure" or "all".
    notify_on: Mapped[str] = mapped_column(String(8), default="failure")

    user: Mapped[User] = relationship(lazy="joined")


class PipelineTrigger(Base):
    """When a run of ``source`` succeeds, queue a run of ``pipeline`` with ``parameters``."""

    __tablename__ = "pipeline_trigger"
    __table_args__ = (UniqueConstraint("pipeline_id", "source_id", name="pipeline_source"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    source_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("pipeline.id", ondelete="CASCADE"), index=True
    )
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Dataset(Base):
    __tablename__ = "dataset"
    __table_args__ = (UniqueConstraint("workspace_id", "slug", name="dataset_workspace_slug"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )

    #: The owning workspace (a dataset shared with others still has one owner).
    workspace: Mapped[Workspace] = relationship(lazy="joined")


class DatasetVersion(Base):
    """A draft until published; a published version never changes."""

    __tablename__ = "dataset_version"
    __table_args__ = (
        UniqueConstraint("dataset_id", "number", name="dataset_version_number"),
        UniqueConstraint("dataset_id", "name", name="dataset_version_name"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    changelog: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="draft")
    #: The author: a person, or a pipeline run (with its version and parameters on the run).
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    author_run_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("pipeline_run.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]


class DatasetFile(Base):
    __tablename__ = "dataset_file"
    __table_args__ = (UniqueConstraint("version_id", "name", name="dataset_file_version_name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dataset_version.id", ondelete="CASCADE")
    )
    name: Mapped[str] = mapped_column(String(255))
    #: The content, stored once in the object store under this hash.
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # parquet | csv | excel | json | geojson | file
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TableProfile(Base):
    """The profile of one table content (by hash): computed once, whatever version holds it."""

    __tablename__ = "table_profile"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str] = mapped_column(Text, default="")
    row_count: Mapped[int | None] = mapped_column(BigInteger)
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: When a server took it; a claim older than the lease is taken again.
    claimed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetShare(Base):
    """A dataset readable (never writable) by the members of another workspace."""

    __tablename__ = "dataset_share"
    __table_args__ = (
        UniqueConstraint("dataset_id", "workspace_id", name="dataset_share_dataset_workspace"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("dataset.id", ondelete="CASCADE"))
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspace.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DatasetToken(Base):
    """A read-only token for one dataset, for an external tool (BI, another system)."""

    __tablename__ = "dataset_token"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    dataset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class DatasetAccess(Base):
    """One read of a dataset: who (a person, or a dataset token), when, what, how much."""

    __tablename__ = "dataset_access"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    dataset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    version_name: Mapped[str] = mapped_column(String(200))
    file_name: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(16))  # a ReadKind: download, export, load…
    #: The workspace the reader read it from (the owner's, or one it is shared with).
    reader_workspace_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("workspace.id", ondelete="SET NULL")
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL")
    )
    #: How: "browser", "api token <name>", "dataset token <name>" or "run <id>".
    via: Mapped[str] = mapped_column(String(255), default="")
    rows: Mapped[int | None] = mapped_column(BigInteger)
    bytes: Mapped[int | None] = mapped_column(BigInteger)
    client_ip: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class DatasetTrigger(Base):
    """When ``dataset`` (owned or shared with the pipeline's workspace) gets a new
    published version, queue a run of ``pipeline`` with ``parameters``."""

    __tablename__ = "dataset_trigger"
    __table_args__ = (
        UniqueConstraint("pipeline_id", "dataset_id", name="dataset_trigger_pipeline_dataset"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    pipeline_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("pipeline.id", ondelete="CASCADE"))
    dataset_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dataset.id", ondelete="CASCADE"), index=True
    )
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The workspace databases' tables live in their own module (this one stays readable); imported
# here, once Base is defined, so that they are part of Base.metadata wherever it is used.
from joliba.db import workspace_database_tables as _workspace_database_tables  # noqa: E402, F401
