"""Dataset tables: profiles, paginated preview, read-only SQL, exports and version diffs.

Reads are written to the dataset's access log. DuckDB work runs after the request's
database session is closed, so a long query never holds a transaction open; a query whose
client disconnects is stopped (see :mod:`joliba.api.disconnects`).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from joliba.api.datasets import BASE, VERSION, log_read, readable_file
from joliba.api.deps import PlatformDep, ReadDB, require
from joliba.api.disconnects import while_connected
from joliba.api.files import content_disposition
from joliba.db.tables import Dataset as DatasetRow
from joliba.db.tables import DatasetFile
from joliba.domain.errors import Invalid
from joliba.domain.permissions import Action
from joliba.schemas.dataset_reads import (
    QueryRequest,
    QueryResult,
    TablePreview,
    TableProfile,
    VersionDiff,
)
from joliba.services import dataset_reads, datasets, profiles
from joliba.services.dataset_access import ReadKind
from joliba.services.profiles import ProfileState
from joliba.services.workspaces import Access
from joliba.storage.files import CHUNK
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
    _dataset, _version, row = readable_file(session, access, slug, version, name)
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
    dataset, chosen, row = readable_file(session, access, slug, version, name)
    session.close()
    page = dataset_reads.preview(
        platform.tables,
        row,
        offset=offset,
        limit=limit,
        sort=_sorts(sort),
        filters=_filters(filter),
        max_bytes=platform.settings.query_max_bytes,
    )
    log_read(
        platform,
        access,
        dataset,
        ReadKind.PREVIEW,
        version=chosen.name,
        file=row.name,
        rows=len(page["rows"]),
    )
    return TablePreview(**page, offset=offset, limit=limit)


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
    def files() -> tuple[DatasetRow, str, list[DatasetFile]]:
        dataset = datasets.get(session, access, slug)
        chosen = datasets.get_version(
            session, dataset, version, drafts=datasets.sees_drafts(access, dataset)
        )
        rows = list(datasets.files(session, chosen))
        session.close()
        return dataset, chosen.name, rows

    dataset, name, rows = await run_in_threadpool(files)
    settings = platform.settings
    work = partial(
        dataset_reads.query,
        platform.tables,
        rows,
        body.sql,
        max_rows=settings.query_max_rows,
        max_bytes=settings.query_max_bytes,
        timeout=settings.query_timeout_seconds,
    )
    result = await while_connected(request, lambda interrupt: work(interrupt=interrupt))
    count = len(result["rows"])
    await run_in_threadpool(
        lambda: log_read(platform, access, dataset, ReadKind.QUERY, version=name, rows=count)
    )
    return QueryResult(**result, tables=list(dataset_reads.tables_of(rows)))


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
    dataset, chosen, row = readable_file(session, access, slug, version, name)
    session.close()
    path, count = dataset_reads.export(platform.tables, row, format)
    size = path.stat().st_size
    log_read(
        platform,
        access,
        dataset,
        ReadKind.EXPORT,
        version=chosen.name,
        file=row.name,
        rows=count,
        size=size,
    )
    stem = row.name.rsplit(".", 1)[0] if "." in row.name else row.name

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while data := handle.read(CHUNK):
                yield data

    return StreamingResponse(
        chunks(),
        media_type=MEDIA[format],
        headers={
            "Content-Length": str(size),
            "Content-Disposition": content_disposition(f"{stem}.{format}"),
        },
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


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
    dataset = datasets.get(session, access, slug)
    drafts = datasets.sees_drafts(access, dataset)
    before = datasets.get_version(session, dataset, old, drafts=drafts)
    after = datasets.get_version(session, dataset, new, drafts=drafts)
    old_files, new_files = (
        list(datasets.files(session, before)),
        list(datasets.files(session, after)),
    )
    names = before.name, after.name
    session.close()
    columns = [k.strip() for k in key.split(",") if k.strip()] or None
    result = dataset_reads.diff(platform.tables, old_files, new_files, key=columns)
    log_read(platform, access, dataset, ReadKind.DIFF, version=f"{names[0]} → {names[1]}")
    return VersionDiff(old=names[0], new=names[1], **result)
