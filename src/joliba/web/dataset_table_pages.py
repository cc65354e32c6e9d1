"""Reading a dataset's tables in the browser: the preview, the SQL box, comparing versions.

The preview and the SQL answer are HTMX fragments of the dataset page (the SQL form also
works without JavaScript: it then answers with the whole page). Like the API, DuckDB work
runs after the database session is closed, a query whose browser goes away is stopped, and
every preview and query is written to the dataset's access log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from joliba.api.datasets import log_read, readable_file
from joliba.api.deps import PlatformDep
from joliba.api.disconnects import while_connected
from joliba.db.tables import Dataset as DatasetRow
from joliba.db.tables import DatasetFile
from joliba.domain.errors import Invalid
from joliba.domain.paging import PageRequest
from joliba.domain.permissions import Action
from joliba.services import dataset_reads, datasets, workspaces
from joliba.services.dataset_access import ReadKind
from joliba.storage.table_reads import FILTER_OPS, Filter, Sort
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.dataset_pages import (
    OP_LABELS,
    dataset_url,
    file_path,
    render_dataset,
)
from joliba.web.dataset_profiles import cell
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
PREVIEW_ROWS = 25
MAX_FILTERS = 20
#: The SQL box shows at most this many rows (the API returns up to query_max_rows), and
#: at most this many bytes of them (the API: query_max_bytes).
SQL_ROWS = 1000
SQL_BYTES = 4 * 1024 * 1024
VERSIONS_OFFERED = 200

Texts = Annotated[list[str], Query()]


@dataclass
class PreviewState:
    """What the preview shows, written back into every link it draws."""

    base: str
    offset: int = 0
    limit: int = PREVIEW_ROWS
    sort: str = ""
    desc: bool = False
    filters: list[Filter] = field(default_factory=list)

    def params(self, **changes: Any) -> list[tuple[str, str]]:
        offset = changes.get("offset", self.offset)
        sort = changes.get("sort", self.sort)
        desc = changes.get("desc", self.desc)
        filters = changes.get("filters", self.filters)
        found: list[tuple[str, str]] = []
        if offset:
            found.append(("offset", str(offset)))
        if sort:
            found.append(("sort", sort))
            if desc:
                found.append(("desc", "1"))
        for item in filters:
            found += [("fc", item.column), ("fo", item.op), ("fv", item.value)]
        return found

    def url(self, **changes: Any) -> str:
        params = self.params(**changes)
        return self.base + ("?" + urlencode(params) if params else "")

    def hidden(self) -> list[tuple[str, str]]:
        """The state as hidden fields of the filter form (a new filter starts at row 1)."""
        return self.params(offset=0)

    def sort_url(self, column: str) -> str:
        """Ascending, then descending, then unsorted; back to the first rows each time."""
        if self.sort != column:
            return self.url(sort=column, desc=False, offset=0)
        if not self.desc:
            return self.url(desc=True, offset=0)
        return self.url(sort="", desc=False, offset=0)

    def without(self, index: int) -> str:
        kept = [f for i, f in enumerate(self.filters) if i != index]
        return self.url(filters=kept, offset=0)


def _filters(columns: list[str], ops: list[str], values: list[str]) -> list[Filter]:
    if not len(columns) == len(ops) == len(values):
        raise Invalid("filter: each filter needs a column, a condition and a value")
    if len(columns) > MAX_FILTERS:
        raise Invalid(f"filter: at most {MAX_FILTERS} filters")
    found = []
    for column, op, value in zip(columns, ops, values, strict=True):
        if op not in FILTER_OPS:
            raise Invalid(f"filter: '{op}' is not one of {', '.join(FILTER_OPS)}")
        found.append(Filter(column, op, "" if op in ("null", "notnull") else value))
    return found


@router.get("/w/{ws}/datasets/{ref}/versions/{version}/files/{name}/preview")
def preview_fragment(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    ref: str,
    version: str,
    name: str,
    offset: Annotated[int, Query(ge=0)] = 0,
    sort: Annotated[str, Query(max_length=255)] = "",
    desc: bool = False,
    fc: Texts = [],  # noqa: B006 (FastAPI copies defaults)
    fo: Texts = [],  # noqa: B006
    fv: Texts = [],  # noqa: B006
    add_column: Annotated[str, Query(max_length=255)] = "",
    add_op: Annotated[str, Query(max_length=16)] = "",
    add_value: Annotated[str, Query(max_length=500)] = "",
) -> Response:
    with platform.db.session(write=False) as session:
        access = workspaces.authorize(session, actor, ws, Action.DATASET_READ)
        dataset, chosen, row = readable_file(session, access, ref, version, name)
        dataset_reads.check_table(row)
        path = file_path(ws, datasets.ref_of(access, dataset), chosen.number, row.name)
    base = f"/w/{path}/preview"
    error = ""
    try:
        kept = _filters(fc, fo, fv)
    except Invalid as exc:
        kept, error = [], exc.message
    state = PreviewState(base=base, offset=offset, sort=sort, desc=desc and bool(sort))
    state.filters = kept
    if add_column:
        try:
            state.filters = [*kept, *_filters([add_column], [add_op], [add_value])]
        except Invalid as exc:
            error = exc.message
        state.offset = 0
    page: dict[str, Any] | None = None
    # A filter or sort that does not fit the table is shown as an error, and dropped: first
    # the filter just added, then the rest, so the table stays readable.
    attempts = [state.filters, kept, None] if state.filters != kept else [kept, None]
    for attempt in attempts:
        try:
            if attempt is None:
                state.filters, state.sort, state.desc, state.offset = [], "", False, 0
            else:
                state.filters = attempt
            page = dataset_reads.preview(
                platform.tables,
                row,
                offset=state.offset,
                limit=state.limit,
                sort=[Sort(state.sort, descending=state.desc)] if state.sort else [],
                filters=state.filters,
                max_bytes=platform.settings.query_max_bytes,
            )
            break
        except Invalid as exc:
            error = error or exc.message
    if page is None:  # the table itself cannot be read: say why, log nothing
        page = {"columns": [], "rows": [], "total": 0}
    else:
        log_read(
            platform,
            access,
            dataset,
            ReadKind.PREVIEW,
            version=chosen.name,
            file=row.name,
            rows=len(page["rows"]),
        )
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


@router.post("/w/{ws}/datasets/{ref}/versions/{version}/query")
async def query(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    ref: str,
    version: str,
    sql: Annotated[str, Form(max_length=100_000)],
) -> Response:
    def files() -> tuple[workspaces.Access, DatasetRow, str, list[DatasetFile], str]:
        with platform.db.session(write=False) as session:
            access = workspaces.authorize(session, actor, ws, Action.DATASET_READ)
            dataset = datasets.get(session, access, ref)
            chosen = datasets.get_version(
                session, dataset, version, drafts=datasets.sees_drafts(access, dataset)
            )
            rows = list(datasets.files(session, chosen))
            return access, dataset, chosen.name, rows, str(chosen.number)

    access, dataset, name, rows, number = await run_in_threadpool(files)
    settings = platform.settings
    result: dict[str, Any] | None = None
    error = ""
    try:
        result = await while_connected(
            request,
            lambda interrupt: dataset_reads.query(
                platform.tables,
                rows,
                sql,
                max_rows=min(settings.query_max_rows, SQL_ROWS),
                max_bytes=min(settings.query_max_bytes, SQL_BYTES),
                timeout=settings.query_timeout_seconds,
                interrupt=interrupt,
            ),
        )
    except Invalid as exc:
        error = exc.message
    else:
        count = len(result["rows"])
        await run_in_threadpool(
            lambda: log_read(platform, access, dataset, ReadKind.QUERY, version=name, rows=count)
        )
    status = 400 if error else 200

    def answer() -> Response:
        if request.headers.get("hx-request"):
            context = {"sql_result": result, "sql_error": error, "cell": cell}
            return render(request, "datasets/_sql_result.html", context, status=status)
        return render_dataset(
            request,
            platform,
            actor,
            ws,
            ref,
            number,
            status=status,
            sql=sql,
            sql_result=result,
            sql_error=error,
        )

    return await run_in_threadpool(answer)


@router.get("/w/{ws}/datasets/{ref}/compare")
def compare(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    ref: str,
    old: Annotated[str, Query(max_length=200)] = "",
    new: Annotated[str, Query(max_length=200)] = "",
    key: Annotated[str, Query(max_length=1000)] = "",
) -> Response:
    """Two versions side by side: by default the newest and the one before it."""
    with platform.db.session(write=False) as session:
        access = workspaces.authorize(session, actor, ws, Action.DATASET_READ)
        dataset = datasets.get(session, access, ref)
        ref = datasets.ref_of(access, dataset)
        drafts = datasets.sees_drafts(access, dataset)
        versions, _ = datasets.list_versions(
            session, dataset, PageRequest(page_size=VERSIONS_OFFERED), drafts=drafts
        )
        offered = [(v.number, v.name, v.state) for v in versions]
        if not new and versions:
            new = str(versions[0].number)
        if not old and len(versions) > 1:
            old = str(versions[1].number)
        pair = None
        if old and new:
            before = datasets.get_version(session, dataset, old, drafts=drafts)
            after = datasets.get_version(session, dataset, new, drafts=drafts)
            pair = (
                (before.number, before.name, list(datasets.files(session, before))),
                (after.number, after.name, list(datasets.files(session, after))),
            )
        name = dataset.name
    columns = [k.strip() for k in key.split(",") if k.strip()]
    result: dict[str, Any] | None = None
    error = ""
    if pair is not None:
        try:
            result = dataset_reads.diff(
                platform.tables, pair[0][2], pair[1][2], key=columns or None
            )
            log_read(
                platform, access, dataset, ReadKind.DIFF, version=f"{pair[0][1]} → {pair[1][1]}"
            )
        except Invalid as exc:
            error = exc.message
    context = workspace_context(
        access,
        "datasets",
        name=name,
        ref=ref,
        dataset_url=dataset_url(ws, ref),
        offered=offered,
        old=pair[0][0] if pair else None,
        new=pair[1][0] if pair else None,
        names=(pair[0][1], pair[1][1]) if pair else ("", ""),
        key=", ".join(columns),
        result=result,
        error=error,
        cell=cell,
    )
    return render(request, "datasets/compare.html", context)
