"""Dataset tables: profiles, paginated preview, read-only SQL, exports and version diffs.

Each read is one call of :mod:`joliba.services.dataset_reading`, which writes it to the
dataset's access log and runs the DuckDB work with no transaction open (the route closes
the request's session first), so a long query never holds one; a query whose client
disconnects is stopped (see :mod:`joliba.http.disconnects`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from joliba.api.datasets import BASE, VERSION
from joliba.domain.errors import Invalid
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep, ReadDB, require
from joliba.http.disconnects import while_connected
from joliba.http.downloads import file_response
from joliba.schemas.dataset_reads import (
    MapLayer,
    QueryRequest,
    QueryResult,
    TablePreview,
    TableProfile,
    VersionDiff,
)
from joliba.services import dataset_access, dataset_reading, dataset_reads, profiles
from joliba.services.dataset_reading import Rows, boundaries_of
from joliba.services.profiles import ProfileState
from joliba.services.workspaces import Access
from joliba.storage.table_reads import FILTER_OPS, Filter, Sort

router = APIRouter(tags=["datasets"])
MAX_PREVIEW = 500
MEDIA = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@router.get(
    VERSION + "/files/{name}/profile",
    response_model=TableProfile,
    summary="A table's profile (computed in the background: poll while pending or running)",
)
def get_profile(
    slug: str,
    version: str,
    name: str,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
) -> TableProfile:
    _dataset, _version, row = dataset_access.readable_file(session, access, slug, version, name)
    dataset_reads.check_table(row)
    found = profiles.get(session, row.sha256)
    if found is None:  # stored before profiling existed: nothing queued it
        return TableProfile(state=ProfileState.PENDING, progress=0.0)
    return TableProfile(
        state=found.state,
        progress=found.progress,
        error=found.error,
        rows=found.row_count,
        profile=found.profile,
    )


def _sorts(values: list[str]) -> list[Sort]:
    return [Sort(v[1:], descending=True) if v.startswith("-") else Sort(v) for v in values]


def _filters(values: list[str]) -> list[Filter]:
    found = []
    for value in values:
        column, _, rest = value.partition(":")
        op, _, operand = rest.partition(":")
        if not column or op not in FILTER_OPS:
            raise Invalid(
                f"filter: '{value}' is not column:op[:value] with op one of "
                f"{', '.join(FILTER_OPS)}",
                details={"field": "filter"},
            )
        found.append(Filter(column, op, operand))
    return found


@router.get(
    VERSION + "/files/{name}/preview",
    response_model=TablePreview,
    summary="A page of a table's rows, sorted and filtered",
)
def preview(
    slug: str,
    version: str,
    name: str,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
    platform: PlatformDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PREVIEW)] = 50,
    sort: Annotated[
        list[str], Query(description="Column to sort by; prefix with - for descending")
    ] = [],  # noqa: B006 (FastAPI copies defaults)
    filter: Annotated[
        list[str],
        Query(description="column:op:value, op one of " + ", ".join(FILTER_OPS)),
    ] = [],  # noqa: B006
) -> TablePreview:
    session.close()
    rows = Rows(offset=offset, limit=limit, sort=_sorts(sort), filters=_filters(filter))
    read = dataset_reading.preview(
        platform, access.actor, access.workspace.slug, slug, version, name, [rows]
    )
    return TablePreview(**read.answer(), offset=offset, limit=limit)


@router.get(
    VERSION + "/files/{name}/map",
    response_model=MapLayer,
    summary="A table as a map layer: a GeoJSON feature per shape, its value per period",
)
def map_layer(
    slug: str,
    version: str,
    name: str,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
    platform: PlatformDep,
    geometry: Annotated[str, Query(max_length=255, description="Column of shapes")] = "",
    value: Annotated[str, Query(max_length=255, description="Numeric column to sum")] = "",
    period: Annotated[str, Query(max_length=255, description="Column of periods")] = "",
    label: Annotated[str, Query(max_length=255, description="Column naming shapes")] = "",
    boundaries: Annotated[
        str, Query(max_length=200, description="A dataset of shapes to draw a table with none")
    ] = "",
    boundaries_file: Annotated[str, Query(max_length=255, description="Its table file")] = "",
    boundaries_version: Annotated[str, Query(max_length=200)] = "latest",
    key: Annotated[
        str, Query(max_length=255, description="The table's column matched to the boundaries")
    ] = "",
    boundaries_key: Annotated[
        str, Query(max_length=255, description="The boundaries' column (default: key)")
    ] = "",
) -> MapLayer:
    session.close()
    read = dataset_reading.map_layer(
        platform,
        access.actor,
        access.workspace.slug,
        slug,
        version,
        name,
        geometry=geometry,
        value=value,
        period=period,
        label=label,
        boundaries=boundaries_of(
            boundaries, boundaries_file, boundaries_version, key, boundaries_key
        ),
    )
    return MapLayer.model_validate(read.layer)


@router.post(
    VERSION + "/query",
    response_model=QueryResult,
    summary="Run one read-only SQL SELECT over the version's tables",
)
async def query(
    request: Request,
    slug: str,
    version: str,
    body: QueryRequest,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
    platform: PlatformDep,
) -> QueryResult:
    await run_in_threadpool(session.close)
    read = await while_connected(
        request,
        lambda interrupt: dataset_reading.query(
            platform,
            access.actor,
            access.workspace.slug,
            slug,
            version,
            body.sql,
            interrupt=interrupt,
        ),
    )
    return QueryResult(**read.result, tables=read.tables)


@router.get(
    VERSION + "/files/{name}/export",
    response_class=StreamingResponse,
    summary="Download a table converted to CSV, Parquet or Excel",
    responses={200: {"content": {m: {} for m in MEDIA.values()}}},
)
def export(
    slug: str,
    version: str,
    name: str,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
    platform: PlatformDep,
    format: Annotated[str, Query(description="csv, parquet or xlsx")] = "csv",
) -> StreamingResponse:
    session.close()
    read = dataset_reading.export(
        platform, access.actor, access.workspace.slug, slug, version, name, format
    )
    shown = read.source.file
    stem = shown.rsplit(".", 1)[0] if "." in shown else shown
    return file_response(read.path, MEDIA[format], f"{stem}.{format}")


@router.get(
    BASE + "/{slug}/diff",
    response_model=VersionDiff,
    summary="What changed between two versions (files; tables' schema, rows, rows by key)",
)
def diff(
    slug: str,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
    platform: PlatformDep,
    old: Annotated[str, Query(description="The earlier version (number, name)")],
    new: Annotated[str, Query(description="The later version (number, name or latest)")],
    key: Annotated[str, Query(description="Comma-separated key columns for a row-level diff")] = "",
) -> VersionDiff:
    session.close()
    columns = [k.strip() for k in key.split(",") if k.strip()]
    read = dataset_reading.diff(
        platform, access.actor, access.workspace.slug, slug, old, new, key=columns
    )
    return VersionDiff(old=read.old.version, new=read.new.version, **read.result)
