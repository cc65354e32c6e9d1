"""The workspace database page: its tables with a page of rows, the SQL editor with saved
queries and exports, and how to connect a BI tool.

Each read is one call of :mod:`joliba.services.workspace_sql` (SQL runs read-only for
viewers, as the owner for editors; every run and export audited), and a query whose browser
goes away is stopped. The SQL form and the saved-query forms also work without JavaScript.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from joliba.domain.errors import Invalid, Unavailable
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.http.disconnects import while_connected
from joliba.http.downloads import file_response
from joliba.services import units, workspace_sql
from joliba.services.workspace_databases import Details
from joliba.storage.table_reads import Sort
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.dataset_pages import OP_LABELS
from joliba.web.dataset_profiles import cell
from joliba.web.dataset_table_pages import SQL_BYTES, SQL_ROWS, Asked
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])

Sql = Annotated[str, Form(max_length=100_000)]


def _page(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    *,
    table: str = "",
    sql: str = "",
    sql_result: dict[str, Any] | None = None,
    sql_error: str = "",
    status: int = 200,
) -> Response:
    with units.work(platform.db, actor, ws, Action.DATABASE_READ) as (session, access):
        saved = workspace_sql.saved(session, access)
        can_write = access.allows(Action.DATABASE_WRITE)
        can_reveal = access.allows(Action.DATABASE_REVEAL)
        can_rotate = access.allows(Action.DATABASE_ROTATE)
    problem = ""
    try:
        details = platform.databases.details(actor, ws)
        tables = workspace_sql.tables(platform, actor, ws)
    except (Unavailable, Invalid) as exc:
        details, tables, problem = None, [], exc.message
    context = workspace_context(
        access,
        "database",
        details=details,
        tables=tables,
        table=table if any(t.name == table for t in tables) else "",
        problem=problem,
        saved=saved,
        sql=sql,
        sql_result=sql_result,
        sql_error=sql_error,
        can_write=can_write,
        can_reveal=can_reveal,
        can_rotate=can_rotate,
        cell=cell,
    )
    return render(request, "database.html", context, status=status)


@router.get("/w/{ws}/database")
def database_page(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    table: Annotated[str, Query(max_length=255)] = "",
    query: Annotated[str, Query(max_length=64, description="A saved query to load")] = "",
) -> Response:
    sql = ""
    if query:
        with units.work(platform.db, actor, ws, Action.DATABASE_READ) as (session, access):
            sql = workspace_sql.get_saved(session, access, query).sql
    return _page(request, platform, actor, ws, table=table, sql=sql)


@router.get("/w/{ws}/database/tables/{table}/preview")
def preview_fragment(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, table: str, asked: Asked
) -> Response:
    state, error = asked.state, asked.error
    state.base = f"/w/{ws}/database/tables/{quote(table, safe='')}/preview"
    sorting = [Sort(state.sort, descending=state.desc)] if state.sort else []
    try:
        page = workspace_sql.preview(
            platform,
            actor,
            ws,
            table,
            offset=state.offset,
            limit=state.limit,
            sort=sorting,
            filters=state.filters,
        )
    except Invalid as exc:  # a filter or sort that does not fit: shown, and dropped
        error = exc.message
        state.filters, state.sort, state.desc, state.offset = [], "", False, 0
        page = workspace_sql.preview(platform, actor, ws, table, limit=state.limit)
    context = {
        "state": state,
        "columns": page["columns"],
        "rows": page["rows"],
        "total": page["total"],
        "error": error,
        "op_labels": OP_LABELS,
        "cell": cell,
    }
    return render(request, "datasets/_preview.html", context)


@router.post("/w/{ws}/database/query")
async def run_query(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, sql: Sql
) -> Response:
    result: dict[str, Any] | None = None
    error = ""
    try:
        answer = await while_connected(
            request,
            lambda interrupt: workspace_sql.query(
                platform,
                actor,
                ws,
                sql,
                max_rows=SQL_ROWS,
                max_bytes=SQL_BYTES,
                interrupt=interrupt,
            ),
        )
    except Invalid as exc:
        error = exc.message
    else:
        result = {**answer.result, "role": answer.role}
    status = 400 if error else 200

    def respond() -> Response:
        if request.headers.get("hx-request"):
            context = {"sql_result": result, "sql_error": error, "cell": cell, "sql": sql}
            return render(request, "_database_result.html", context, status=status)
        return _page(
            request, platform, actor, ws, sql=sql, sql_result=result, sql_error=error, status=status
        )

    return await run_in_threadpool(respond)


@router.post("/w/{ws}/database/export")
def export_query(
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    sql: Sql,
    format: Annotated[str, Form(max_length=8)] = "csv",
) -> Response:
    made = workspace_sql.export(platform, actor, ws, sql, format)
    return file_response(made.path, made.media_type, made.filename)


@router.post("/w/{ws}/database/queries")
def save_query(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    sql: Sql,
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """The SQL editor's "Save" button: the query kept under its name, then the page again."""
    with units.work(platform.db, actor, ws, Action.DATABASE_WRITE) as (session, access):
        saved = workspace_sql.save(session, access, name=name, sql=sql)
        target = f"/w/{ws}/database?query={saved.id}#sql"
    if request.headers.get("hx-request"):  # a whole page to load, not a fragment
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.post("/w/{ws}/database/queries/{query_id}/delete")
def delete_query(platform: PlatformDep, actor: PageActor, ws: str, query_id: str) -> Response:
    with units.work(platform.db, actor, ws, Action.DATABASE_WRITE) as (session, access):
        workspace_sql.delete_saved(session, access, query_id)
    return RedirectResponse(f"/w/{ws}/database#sql", status_code=303)


@router.post("/w/{ws}/database/reveal")
def reveal(request: Request, platform: PlatformDep, actor: PageActor, ws: str) -> Response:
    """The passwords, shown in the page once (and recorded in the audit log)."""
    details = platform.databases.details(actor, ws, reveal=True)
    return _secrets(request, details)


@router.post("/w/{ws}/database/rotate")
def rotate(request: Request, platform: PlatformDep, actor: PageActor, ws: str) -> Response:
    if platform.databases.server is None:  # a SQLite file: nothing to rotate, as it says
        with units.work(platform.db, actor, ws, Action.DATABASE_ROTATE):
            pass  # refused as the real thing would be (role, archived workspace)
        return _secrets(request, None, rotated=True)
    return _secrets(request, platform.databases.rotate(actor, ws), rotated=True)


def _secrets(request: Request, details: Details | None, *, rotated: bool = False) -> Response:
    """The passwords, or why there are none (a SQLite file, which only runs open)."""
    shown = details if details is not None and details.password is not None else None
    return render(request, "_database_secrets.html", {"details": shown, "rotated": rotated})
