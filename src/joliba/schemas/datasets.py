"""Wire shapes of datasets, versions and files."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from joliba.schemas.common import Input, Model


class DatasetFile(Model):
    name: str
    sha256: str
    size: int
    kind: str = Field(description="parquet, csv, excel, json, geojson (tables) or file")
    created_at: datetime


class DatasetVersion(Model):
    id: uuid.UUID
    number: int
    name: str
    changelog: str
    state: str = Field(description="draft or published")
    author: str | None = Field(default=None, description="Email of the person who made it")
    author_run: uuid.UUID | None = Field(default=None, description="The pipeline run that made it")
    created_at: datetime
    published_at: datetime | None
    files: list[DatasetFile] = Field(default_factory=list)


class Dataset(Model):
    id: uuid.UUID
    ref: str = Field(
        description="How this workspace names it: the slug, or source-workspace.slug if shared"
    )
    workspace: str = Field(description="The owning workspace")
    shared: bool = Field(description="Shared with this workspace by another (read-only here)")
    slug: str
    name: str
    description: str
    tags: list[str]
    created_at: datetime
    latest: DatasetVersion | None = Field(default=None, description="Newest published version")


class DatasetCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    slug: str | None = Field(default=None, max_length=64)
    description: str = Field(default="", max_length=10_000)
    tags: list[str] = Field(default_factory=list)


class VersionCreate(Input):
    name: str = Field(default="", max_length=200, description="Default: v<number>")
    changelog: str = Field(default="", max_length=100_000)


class UploadState(Model):
    received: int = Field(description="Bytes of the file the server already holds")
