"""A workspace's own database: its connection details, new passwords for its roles, its
tables, SQL (read-only for viewers), exports and saved queries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse

from joliba.domain.permissions import Action
from joliba.http.deps import ActorDep, PlatformDep, ReadDB, WriteDB, require
from joliba.http.disconnects import while_connected
from joliba.http.downloads import file_response
from joliba.schemas.workspace_databases import (
    DatabaseAnswer,
    DatabaseColumn,
    DatabaseExport,
    DatabaseQuery,
    DatabaseRows,
    DatabaseTable,
    SavedQueryIn,
    SavedQueryOut,
    TableFollowOut,
    TableLoad,
    TableLoaded,
    WorkspaceDatabase,
)
from joliba.services import table_loads, workspace_sql
from joliba.services.workspaces import Access
from joliba.storage.table_reads import Sort

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

router = APIRouter(tags=["workspace database"])


@router.get(
    "/workspaces/{ws}/database",
    response_model=WorkspaceDatabase,
    summary="The workspace database's connection details",
)
def get_database(
    ws: str,
    actor: ActorDep,
    platform: PlatformDep,
    reveal: Annotated[
        bool,
        Query(description="Include the passwords (editors and admins; recorded in the audit log)"),
    ] = False,
) -> WorkspaceDatabase:
    details = platform.databases.details(actor, ws, reveal=reveal)
    return WorkspaceDatabase.model_validate(details)


@router.post(
    "/workspaces/{ws}/database/rotate",
    response_model=WorkspaceDatabase,
    summary="New passwords for the workspace database's roles (the old ones stop working)",
)
def rotate_passwords(ws: str, actor: ActorDep, platform: PlatformDep) -> WorkspaceDatabase:
    return WorkspaceDatabase.model_validate(platform.databases.rotate(actor, ws))


@router.get(
    "/workspaces/{ws}/database/tables",
    response_model=list[DatabaseTable],
    summary="The workspace database's tables, with their columns and row counts",
)
def list_tables(ws: str, actor: ActorDep, platform: PlatformDep) -> list[DatabaseTable]:
    return [
        DatabaseTable(
            name=t.name,
            columns=[DatabaseColumn(name=n, type=k) for n, k in t.columns],
            rows=t.rows,
            rows_estimated=t.estimated,
        )
        for t in workspace_sql.tables(platform, actor, ws)
    ]


@router.get(
    "/workspaces/{ws}/database/tables/{table}/rows",
    response_model=DatabaseRows,
    summary="A page of one table's rows",
)
def table_rows(
    ws: str,
    table: str,
    actor: ActorDep,
    platform: PlatformDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    sort: Annotated[str, Query(max_length=255, description="A column to sort by")] = "",
    desc: Annotated[bool, Query(description="Sort descending")] = False,
) -> DatabaseRows:
    page = workspace_sql.preview(
        platform,
        actor,
        ws,
        table,
        offset=offset,
        limit=limit,
        sort=[Sort(sort, descending=desc)] if sort else [],
    )
    return DatabaseRows(**page, offset=offset, limit=limit)


@router.post(
    "/workspaces/{ws}/database/query",
    response_model=DatabaseAnswer,
    summary="Run one SQL statement (read-only for viewers); recorded in the audit log",
)
async def run_query(
    request: Request, ws: str, body: DatabaseQuery, actor: ActorDep, platform: PlatformDep
) -> DatabaseAnswer:
    answer = await while_connected(
        request,
        lambda interrupt: workspace_sql.query(platform, actor, ws, body.sql, interrupt=interrupt),
    )
    return DatabaseAnswer(**answer.result, role=answer.role)


@router.post(
    "/workspaces/{ws}/database/export",
    response_class=StreamingResponse,
    summary="The rows of one query as CSV or Excel; recorded in the audit log",
    responses={200: {"content": {"text/csv": {}, XLSX: {}}}},
)
def export_query(
    ws: str, body: DatabaseExport, actor: ActorDep, platform: PlatformDep
) -> StreamingResponse:
    made = workspace_sql.export(platform, actor, ws, body.sql, body.format)
    return file_response(made.path, made.media_type, made.filename)


@router.get(
    "/workspaces/{ws}/database/queries",
    response_model=list[SavedQueryOut],
    summary="The workspace's saved queries",
)
def list_saved(
    access: Annotated[Access, Depends(require(Action.DATABASE_READ))], session: ReadDB
) -> list[SavedQueryOut]:
    return [SavedQueryOut.model_validate(q) for q in workspace_sql.saved(session, access)]


@router.post(
    "/workspaces/{ws}/database/queries",
    status_code=201,
    response_model=SavedQueryOut,
    summary="Save a query under a name (the same name replaces it)",
)
def save_query(
    body: SavedQueryIn,
    access: Annotated[Access, Depends(require(Action.DATABASE_WRITE))],
    session: WriteDB,
) -> SavedQueryOut:
    return SavedQueryOut.model_validate(
        workspace_sql.save(session, access, name=body.name, sql=body.sql)
    )


@router.delete(
    "/workspaces/{ws}/database/queries/{query_id}",
    status_code=204,
    summary="Delete a saved query",
)
def delete_query(
    query_id: str,
    access: Annotated[Access, Depends(require(Action.DATABASE_WRITE))],
    session: WriteDB,
) -> Response:
    workspace_sql.delete_saved(session, access, query_id)
    return Response(status_code=204)


@router.post(
    "/workspaces/{ws}/database/loads",
    status_code=201,
    response_model=TableLoaded,
    summary="Load a table file of a dataset version into the database (editors)",
)
def load_table(ws: str, body: TableLoad, actor: ActorDep, platform: PlatformDep) -> TableLoaded:
    loaded = table_loads.load(
        platform,
        actor,
        ws,
        body.dataset,
        body.version,
        body.file,
        body.table,
        if_exists=body.if_exists,
        follow=body.follow,
    )
    return TableLoaded.model_validate(loaded)


@router.get(
    "/workspaces/{ws}/database/follows",
    response_model=list[TableFollowOut],
    summary="The tables kept in step with a dataset's latest version",
)
def list_follows(
    access: Annotated[Access, Depends(require(Action.DATABASE_READ))], session: ReadDB
) -> list[TableFollowOut]:
    return [
        TableFollowOut(
            table=row.table, dataset=ref, file=row.file, loaded_at=row.loaded_at, error=row.error
        )
        for row, ref in table_loads.follows(session, access)
    ]


@router.delete(
    "/workspaces/{ws}/database/follows/{table}",
    status_code=204,
    summary="Stop keeping a table in step (the table stays)",
)
def delete_follow(
    table: str,
    access: Annotated[Access, Depends(require(Action.DATABASE_WRITE))],
    session: WriteDB,
) -> Response:
    table_loads.unfollow(session, access, table)
    return Response(status_code=204)
