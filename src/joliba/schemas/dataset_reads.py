"""Wire shapes of profiles, previews, queries, diffs, shares, dataset tokens and the
access log of datasets."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from joliba.schemas.common import Input, Model


class TableProfile(Model):
    state: str = Field(description="pending, running, done or failed")
    progress: float = Field(description="0 to 1 while running")
    error: str = ""
    rows: int | None = None
    profile: dict[str, Any] | None = Field(
        default=None,
        description="rows; columns (name, type, nulls, distinct, distinct_exact, min, max, "
        "mean, top, histogram, geometry); sample (columns, rows)",
    )


class Column(Model):
    name: str
    type: str


class TablePreview(Model):
    columns: list[Column]
    rows: list[list[Any]]
    total: int = Field(description="Rows matching the filters")
    offset: int
    limit: int
    truncated: bool = Field(
        default=False,
        description="The page was cut at the size limit (JOLIBA_QUERY_MAX_BYTES): it holds "
        "fewer than limit rows; the next page starts at offset + len(rows)",
    )


class QueryRequest(Input):
    sql: str = Field(min_length=1, max_length=100_000, description="One SELECT statement")


class QueryResult(Model):
    columns: list[Column]
    rows: list[list[Any]]
    truncated: bool = Field(description="More rows matched than the answer holds")
    truncated_by: Literal["rows", "bytes"] | None = Field(
        default=None,
        description="Why rows were cut: rows (JOLIBA_QUERY_MAX_ROWS) or bytes "
        "(JOLIBA_QUERY_MAX_BYTES); null when every row is there",
    )
    tables: list[str] = Field(description="The version's tables as SQL names them")


class VersionDiff(Model):
    old: str
    new: str
    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: list[str]
    tables: dict[str, Any] = Field(
        description="Per changed table: schema (added, removed, changed), rows (old, new), "
        "and by_key (added, removed, changed, samples) when a key was given"
    )


class Share(Model):
    workspace: str
    created_at: datetime


class ShareCreate(Input):
    workspace: str = Field(min_length=1, max_length=64, description="Slug of the workspace")


class DatasetToken(Model):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class DatasetTokenCreate(Input):
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class DatasetTokenCreated(DatasetToken):
    token: str = Field(description="The secret, shown only once")


class AccessEntry(Model):
    at: datetime
    action: str = Field(description="download, export, preview, query or diff")
    version: str
    file: str
    user: str | None = Field(description="Email of the reader (a token's creator)")
    workspace: str | None = Field(description="The workspace it was read from")
    via: str = Field(description="browser, api token NAME, dataset token NAME or run ID")
    rows: int | None
    bytes: int | None


class DatasetTrigger(Model):
    dataset: str = Field(description="The dataset (slug, or source-workspace.slug if shared)")
    parameters: dict[str, Any]
    created_at: datetime


class DatasetTriggerSet(Input):
    dataset: str = Field(max_length=130)
    parameters: dict[str, Any] = Field(default_factory=dict)


class MapColumns(Model):
    geometry: str
    value: str = Field(description="Summed per shape and period; empty: rows are counted")
    period: str
    label: str


class MapChoices(Model):
    numbers: list[str] = Field(description="Columns that can be the value")
    all: list[str]


class MapLayer(Model):
    """A GeoJSON FeatureCollection: one feature per shape, ``properties.values`` mapping
    each period to the shape's value (``""`` when the table has no period column)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[dict[str, Any]]
    periods: list[str]
    columns: MapColumns
    range: list[float] | None = Field(description="The lowest and highest value")
    choices: MapChoices
