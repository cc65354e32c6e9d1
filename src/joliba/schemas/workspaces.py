from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from joliba.domain.permissions import Role
from joliba.schemas.common import Input, Model


class Workspace(Model):
    id: uuid.UUID
    slug: str
    name: str
    description: str
    time_zone: str
    archived: bool
    created_at: datetime
    role: Role | None = Field(default=None, description="The caller's role (none for superusers)")


class WorkspaceUsage(Model):
    files_bytes: int = Field(description="Bytes the workspace's files take")
    quota_mb: int = Field(description="Disk quota of its files in MiB (0: none)")
    quota_source: str = Field(description="workspace (its own) or instance (the default)")


class QuotaUpdate(Input):
    quota_mb: int | None = Field(
        ge=0, le=1_073_741_824, description="MiB; 0: no quota; null: the instance's default"
    )


class WorkspaceCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=10_000)
    time_zone: str = Field(default="UTC", max_length=64)


class WorkspaceUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=10_000)
    time_zone: str | None = Field(default=None, max_length=64)
    archived: bool | None = None
