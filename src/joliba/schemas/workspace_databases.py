from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from joliba.schemas.common import Input, Model


class WorkspaceDatabase(Model):
    engine: Literal["sqlite", "postgresql"] = Field(
        description="sqlite: a file only the workspace's runs open; postgresql: a database "
        "BI tools can connect to with the details below"
    )
    status: Literal["ready", "pending", "archived"] = Field(
        description="pending: being made, or to be made again (see error); archived: kept, "
        "but no role may sign in until the workspace is unarchived"
    )
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = Field(default=None, description="The owner role: reads and writes")
    read_only_user: str | None = Field(default=None, description="The role for BI tools")
    password: str | None = Field(
        default=None, description="The owner's password, only with reveal=true"
    )
    read_only_password: str | None = Field(
        default=None, description="The read-only role's password, only with reveal=true"
    )
    postgis: bool = Field(default=False, description="Whether PostGIS is in the database")
    error: str = Field(default="", description="Why the last attempt to make it failed")
    rotated_at: datetime | None = Field(default=None, description="When passwords last changed")


class DatabaseColumn(Model):
    name: str
    type: str


class DatabaseTable(Model):
    name: str
    columns: list[DatabaseColumn]
    rows: int
    rows_estimated: bool = Field(
        default=False,
        description="rows is PostgreSQL's estimate, for tables of a million rows or more",
    )


class DatabaseRows(Model):
    columns: list[DatabaseColumn]
    rows: list[list[Any]]
    total: int = Field(description="Rows of the table")
    truncated: bool = Field(description="The page was cut short to fit the size limit")
    offset: int
    limit: int


class DatabaseQuery(Input):
    sql: str = Field(min_length=1, max_length=100_000, description="One SQL statement")


class DatabaseAnswer(Model):
    columns: list[DatabaseColumn]
    rows: list[list[Any]]
    truncated: bool = Field(description="More rows came than the answer holds")
    truncated_by: Literal["rows", "bytes"] | None = Field(
        default=None, description="Why rows were cut: rows or bytes; null when all are here"
    )
    changed: int | None = Field(
        default=None, description="Rows a statement without an answer changed (editors)"
    )
    role: Literal["owner", "read_only"] = Field(
        description="How it ran: as the owner (editors, admins) or read-only (viewers)"
    )


class DatabaseExport(Input):
    sql: str = Field(min_length=1, max_length=100_000, description="One query with rows")
    format: Literal["csv", "xlsx"] = "csv"


class SavedQueryIn(Input):
    name: str = Field(min_length=1, max_length=200)
    sql: str = Field(min_length=1, max_length=100_000)


class SavedQueryOut(Model):
    id: uuid.UUID
    name: str
    sql: str
    created_by: str
    created_at: datetime


class TableLoad(Input):
    dataset: str = Field(
        min_length=1, max_length=200, description="A dataset slug, or source-workspace.slug"
    )
    version: str = Field(default="latest", max_length=200, description="Number, name or latest")
    file: str = Field(min_length=1, max_length=255, description="A table file of the version")
    table: str = Field(min_length=1, max_length=63, description="The table to write")
    if_exists: Literal["replace", "append", "fail"] = "replace"
    follow: bool = Field(
        default=False,
        description="Keep the table in step: load the same file of each new published version",
    )


class TableLoaded(Model):
    table: str
    rows: int
    dataset: str
    version: int
    file: str
    following: bool


class TableFollowOut(Model):
    table: str
    dataset: str
    file: str
    loaded_at: datetime | None
    error: str = Field(description="Why the last load failed; empty when it worked")
