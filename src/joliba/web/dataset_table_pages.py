"""Reading a dataset's tables in the browser: the preview, the SQL box, comparing versions.

The preview and the SQL answer are HTMX fragments of the dataset page (the SQL form also
works without JavaScript: it then answers with the whole page). Like the API, each read is
one call of :mod:`joliba.services.dataset_reading` (DuckDB work with no transaction open,
each preview, query and comparison written to the dataset's access log), and a query whose
browser goes away is stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from joliba.domain.errors import Invalid
from joliba.domain.paging import PageRequest
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.http.disconnects import while_connected
from joliba.services import dataset_reading, datasets, units
from joliba.services.dataset_reading import Rows
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


def parse_filters(columns: list[str], ops: list[str], values: list[str]) -> list[Filter]:
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


@dataclass
class PreviewAsked:
    """What a preview link or the filter form asks for: the state to show (with the filter
    just added, if any), the filters before that one, and why a filter was refused."""

    state: PreviewState
    kept: list[Filter]
    error: str = ""


def preview_asked(
    offset: Annotated[int, Query(ge=0)] = 0,
    sort: Annotated[str, Query(max_length=255)] = "",
    desc: bool = False,
    fc: Texts = [],  # noqa: B006 (FastAPI copies defaults)
    fo: Texts = [],  # noqa: B006
    fv: Texts = [],  # noqa: B006
    add_column: Annotated[str, Query(max_length=255)] = "",
    add_op: Annotated[str, Query(max_length=16)] = "",
    add_value: Annotated[str, Query(max_length=500)] = "",
) -> PreviewAsked:
    """The query parameters of every table preview (datasets' and the workspace database's)."""
    error = ""
    try:
        kept = parse_filters(fc, fo, fv)
    except Invalid as exc:
        kept, error = [], exc.message
    state = PreviewState(base="", offset=offset, sort=sort, desc=desc and bool(sort))
    state.filters = kept
    if add_column:
        try:
            state.filters = [*kept, *parse_filters([add_column], [add_op], [add_value])]
        except Invalid as exc:
            error = exc.message
        state.offset = 0
    return PreviewAsked(state, kept, error)


Asked = Annotated[PreviewAsked, Depends(preview_asked)]


@router.get("/w/{ws}/datasets/{ref}/versions/{version}/files/{name}/preview")
def preview_fragment(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    ref: str,
    version: str,
    name: str,
    asked: Asked,
) -> Response:
    state, kept, error = asked.state, asked.kept, asked.error
    # A filter or sort that does not fit the table is shown as an error, and dropped: first
    # the filter just added, then the rest, so the table stays readable.
    attempts = [state.filters, kept, None] if state.filters != kept else [kept, None]
    sorting = [Sort(state.sort, descending=state.desc)] if state.sort else []
    read = dataset_reading.preview(
        platform,
        actor,
        ws,
        ref,
        version,
        name,
        [
            Rows(0, state.limit)
            if attempt is None
            else Rows(state.offset, state.limit, sorting, attempt)
            for attempt in attempts
        ],
    )
    shown = None if read.shown is None else attempts[read.shown]
    if shown is None:
        state.filters, state.sort, state.desc, state.offset = [], "", False, 0
    else:
        state.filters = shown
    if read.problem is not None:
        error = error or read.problem.message
    source = read.source
    state.base = f"/w/{file_path(ws, source.ref, source.number, source.file)}/preview"
    # None: the table itself cannot be read; the error says why (and nothing was logged).
    page = read.page if read.page is not None else {"columns": [], "rows": [], "total": 0}
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
    result: dict[str, Any] | None = None
    error = ""
    try:
        read = await while_connected(
            request,
            lambda interrupt: dataset_reading.query(
                platform,
                actor,
                ws,
                ref,
                version,
                sql,
                max_rows=SQL_ROWS,
                max_bytes=SQL_BYTES,
                interrupt=interrupt,
            ),
        )
    except Invalid as exc:
        error, shown = exc.message, version
    else:
        result, shown = read.result, str(read.source.number)
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
            shown,
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
    with units.work(platform.db, actor, ws, Action.DATASET_READ) as (session, access):
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
            pair = (before.number, before.name), (after.number, after.name)
        name = dataset.name
    columns = [k.strip() for k in key.split(",") if k.strip()]
    result: dict[str, Any] | None = None
    error = ""
    if pair is not None:
        numbers = str(pair[0][0]), str(pair[1][0])
        try:
            result = dataset_reading.diff(platform, actor, ws, ref, *numbers, key=columns).result
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


@router.get("/w/{ws}/datasets/{ref}/versions/{version}/files/{name}/map")
def map_page(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    ref: str,
    version: str,
    name: str,
    geometry: Annotated[str, Query(max_length=255)] = "",
    value: Annotated[str, Query(max_length=255)] = "",
    period: Annotated[str, Query(max_length=255)] = "",
    label: Annotated[str, Query(max_length=255)] = "",
    boundaries: Annotated[str, Query(max_length=200)] = "",
    boundaries_file: Annotated[str, Query(max_length=255)] = "",
    key: Annotated[str, Query(max_length=255)] = "",
    boundaries_key: Annotated[str, Query(max_length=255)] = "",
) -> Response:
    """A table drawn as a choropleth: its shapes (or those of a boundaries dataset it is
    matched to) coloured by value, a period slider, a legend and tooltips (Leaflet, with no
    tile server: the boundaries are the map)."""
    layer: dict[str, Any] | None = None
    error = ""
    try:
        read = dataset_reading.map_layer(
            platform,
            actor,
            ws,
            ref,
            version,
            name,
            geometry=geometry,
            value=value,
            period=period,
            label=label,
            boundaries=dataset_reading.boundaries_of(
                boundaries, boundaries_file, "latest", key, boundaries_key
            ),
        )
    except Invalid as exc:
        error = exc.message
    else:
        layer = read.layer
    with units.work(platform.db, actor, ws, Action.DATASET_READ) as (session, access):
        dataset = datasets.get(session, access, ref)
        title = dataset.name
    context = workspace_context(
        access,
        "datasets",
        name=name,
        title=title,
        back=dataset_url(ws, ref, version),
        layer=layer,
        error=error,
        asked={"geometry": geometry, "value": value, "period": period, "label": label},
        join={
            "boundaries": boundaries,
            "boundaries_file": boundaries_file,
            "key": key,
            "boundaries_key": boundaries_key,
        },
        tile_url=platform.settings.map_tile_url,
    )
    return render(request, "datasets/map.html", context)
