"""Datasets: the list (owned and shared), creating one, and a dataset's page.

A dataset's page shows its versions and, for the chosen version, its files; each table
file has its column profile, drawn when the background profiler is done (the fragment
served by ``…/files/{name}/profile`` polls itself every second until then). The preview
and SQL box (:mod:`dataset_table_pages`), sharing, tokens and the access log
(:mod:`dataset_sharing_pages`) are parts of the same page. Downloads and exports are links
to the API, which accepts the browser's session and writes the access log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from joliba.db.tables import Dataset, DatasetFile, DatasetVersion, User
from joliba.domain.errors import Conflict, Invalid, NotFound
from joliba.domain.paging import MAX_PAGE, PageRequest
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.http.views import (
    dataset_version_view,
    dataset_version_views,
    dataset_view,
    dataset_views,
)
from joliba.schemas.datasets import DatasetVersion as VersionView
from joliba.services import (
    dataset_access,
    dataset_reads,
    dataset_shares,
    dataset_tokens,
    datasets,
    profiles,
    units,
)
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.services.profiles import ProfileState
from joliba.services.workspaces import Access
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.dataset_profiles import ColumnView, cell, columns_of
from joliba.web.forms import problem, see_other
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 50
VERSIONS_SHOWN = 50
ACCESS_PAGE_SIZE = 20
EXPORTS = (("csv", "CSV"), ("parquet", "Parquet"), ("xlsx", "Excel"))
#: Shown for each filter operator in the preview's filter form.
OP_LABELS = {
    "eq": "=",
    "ne": "≠",
    "lt": "<",
    "le": "≤",
    "gt": ">",
    "ge": "≥",
    "contains": "contains",
    "null": "is empty",
    "notnull": "is not empty",
}


def dataset_url(ws: str, ref: str, version: str | int | None = None) -> str:
    url = f"/w/{ws}/datasets/{quote(ref, safe='')}"
    return url + (f"?{urlencode({'version': version})}" if version is not None else "")


def version_path(ws: str, ref: str, version: str | int) -> str:
    """The part after /w or /api/v1/workspaces that names one version."""
    return f"{ws}/datasets/{quote(ref, safe='')}/versions/{quote(str(version), safe='')}"


def file_path(ws: str, ref: str, version: str | int, name: str) -> str:
    return f"{version_path(ws, ref, version)}/files/{quote(name, safe='')}"


@dataclass
class ProfileView:
    state: str
    progress: float
    error: str = ""
    rows: int | None = None
    columns: list[ColumnView] = field(default_factory=list)

    @property
    def waiting(self) -> bool:
        return self.state in (ProfileState.PENDING, ProfileState.RUNNING)

    @property
    def percent(self) -> int:
        return round(100 * self.progress)


@dataclass
class FileView:
    """One file of the chosen version, with the URLs the page links to."""

    index: int
    name: str
    kind: str
    size: int
    sha256: str
    download_url: str
    page_base: str
    api_base: str
    profile: ProfileView | None = None

    @property
    def is_table(self) -> bool:
        return self.kind != "file"

    @property
    def anchor(self) -> str:
        return f"file-{self.index}"

    @property
    def profile_url(self) -> str:
        return f"{self.page_base}/profile"

    @property
    def preview_url(self) -> str:
        return f"{self.page_base}/preview"

    @property
    def map_url(self) -> str:
        return f"{self.page_base}/map"

    def export_url(self, fmt: str) -> str:
        return f"{self.api_base}/export?format={fmt}"


def profile_view(session: Session, row: DatasetFile) -> ProfileView:
    found = profiles.get(session, row.sha256)
    if found is None:  # stored before profiling existed: nothing queued it
        return ProfileView(state=ProfileState.PENDING, progress=0.0)
    return ProfileView(
        state=found.state,
        progress=found.progress or 0.0,
        error=found.error or "",
        rows=found.row_count,
        columns=columns_of(found.profile) if found.state == ProfileState.DONE else [],
    )


def file_view(
    session: Session, ws: str, ref: str, version: DatasetVersion, row: DatasetFile, index: int
) -> FileView:
    path = file_path(ws, ref, version.number, row.name)
    view = FileView(
        index=index,
        name=row.name,
        kind=row.kind,
        size=row.size,
        sha256=row.sha256,
        download_url=f"/api/v1/workspaces/{path}",
        page_base=f"/w/{path}",
        api_base=f"/api/v1/workspaces/{path}",
    )
    if view.is_table:
        view.profile = profile_view(session, row)
    return view


def _choose(
    session: Session,
    dataset: Dataset,
    ref: str | None,
    drafts: bool,
    newest: DatasetVersion | None,
) -> DatasetVersion | None:
    """The version asked for; else the latest published one; else the newest visible."""
    if ref:
        return datasets.get_version(session, dataset, ref, drafts=drafts)
    try:
        return datasets.get_version(session, dataset, "latest", drafts=drafts)
    except NotFound:
        return newest


def author_text(view: VersionView) -> str:
    return view.author or ("a pipeline run" if view.author_run else "—")


def dataset_context(
    session: Session,
    access: Access,
    ref: str,
    version: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Everything the dataset page shows; ``extra`` adds errors, results or a new secret."""
    dataset = datasets.get(session, access, ref)
    ref = datasets.ref_of(access, dataset)
    ws = access.workspace.slug
    owned = dataset.workspace_id == access.workspace.id
    drafts = datasets.sees_drafts(access, dataset)
    rows, version_total = datasets.list_versions(
        session, dataset, PageRequest(page_size=VERSIONS_SHOWN), drafts=drafts
    )
    chosen = _choose(session, dataset, version, drafts, rows[0] if rows else None)
    files: list[FileView] = []
    tables: list[str] = []
    if chosen is not None:
        stored = list(datasets.files(session, chosen))
        files = [file_view(session, ws, ref, chosen, row, i) for i, row in enumerate(stored)]
        tables = list(dataset_reads.tables_of(stored))
    creator = session.get(User, dataset.created_by_id) if dataset.created_by_id else None
    archived = access.workspace.archived
    can_share = owned and access.allows(Action.DATASET_SHARE)
    can_log = owned and access.allows(Action.DATASET_ACCESS_LOG)
    context = workspace_context(
        access,
        "datasets",
        dataset=dataset_view(session, access, dataset),
        ref=ref,
        owner=dataset.workspace,
        owned=owned,
        creator=creator.email if creator else None,
        versions=dataset_version_views(session, rows, with_files=False),
        version_total=version_total,
        chosen=dataset_version_view(session, chosen, with_files=False) if chosen else None,
        files=files,
        tables=tables,
        exports=EXPORTS,
        can_share=can_share,
        can_change_shares=can_share and not archived,
        can_log=can_log,
        dataset_url=dataset_url(ws, ref),
        version_base=f"/w/{version_path(ws, ref, chosen.number)}" if chosen else "",
        author_text=author_text,
        sql="",
        sql_result=None,
        sql_error="",
        share_error="",
        token_error="",
        created_token=None,
    )
    if can_share:
        context["shares"] = dataset_shares.list_for(session, dataset)
        context["tokens"] = dataset_tokens.list_for(session, dataset)
    if can_log:
        context.update(access_log_context(session, dataset, 1))
    if tables and not extra.get("sql"):
        # Only a suggestion in the SQL box: what runs is what the person then sends.
        context["sql"] = f'SELECT * FROM "{tables[0]}" LIMIT 20'  # noqa: S608
    context.update(extra)
    return context


def access_log_context(session: Session, dataset: Dataset, page: int) -> dict[str, Any]:
    entries, total = dataset_access.list_for(
        session, dataset, PageRequest(page=page, page_size=ACCESS_PAGE_SIZE)
    )
    return {
        "log_entries": entries,
        "log_total": total,
        "log_page": page,
        "log_page_size": ACCESS_PAGE_SIZE,
    }


def render_dataset(
    request: Request,
    platform: Platform,
    actor: Actor,
    ws: str,
    ref: str,
    version: str | None = None,
    *,
    status: int = 200,
    **extra: Any,
) -> Response:
    with units.work(platform.db, actor, ws, Action.DATASET_READ) as (session, access):
        context = dataset_context(session, access, ref, version, **extra)
    context["cell"] = cell
    return render(request, "datasets/dataset.html", context, status=status)


@router.get("/w/{ws}/datasets")
def dataset_list(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    search: Annotated[str, Query(max_length=200)] = "",
    tag: Annotated[str, Query(max_length=50)] = "",
) -> Response:
    return _list_page(request, platform, actor, ws, page, search.strip(), tag.strip().lower())


def _list_page(
    request: Request,
    platform: Platform,
    actor: Actor,
    ws: str,
    page: int = 1,
    search: str = "",
    tag: str = "",
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    with units.work(platform.db, actor, ws, Action.DATASET_READ) as (session, access):
        rows, total = datasets.list_for(
            session, access, PageRequest(page=page, page_size=PAGE_SIZE), search=search, tag=tag
        )
        views = dataset_views(session, access, rows)
    filters = {k: v for k, v in (("search", search), ("tag", tag)) if v}
    context = workspace_context(
        access,
        "datasets",
        datasets=views,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        search=search,
        tag=tag,
        filters=filters,
        query=lambda **changes: _list_query(filters, changes),
        can_write=access.allows(Action.DATASET_WRITE) and not access.workspace.archived,
        form=form or {"name": "", "description": "", "tags": ""},
        error=error,
    )
    return render(request, "datasets/list.html", context, status=status)


def _list_query(filters: dict[str, str], changes: dict[str, str]) -> str:
    """The list's URL with ``changes`` applied to its filters (an empty value drops one)."""
    merged = {k: v for k, v in {**filters, **changes}.items() if v}
    return "?" + urlencode(merged) if merged else "?"


@router.post("/w/{ws}/datasets")
def dataset_create(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    name: Annotated[str, Form(max_length=200)],
    description: Annotated[str, Form(max_length=10_000)] = "",
    tags: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    form = {"name": name, "description": description, "tags": tags}
    try:
        with units.work(platform.db, actor, ws, Action.DATASET_WRITE) as (session, access):
            created = datasets.create(
                session,
                access,
                name=name,
                description=description,
                tags=[t for t in tags.split(",") if t.strip()],
            )
            slug = created.slug
    except (Invalid, Conflict) as exc:
        message, status = problem(exc)
        return _list_page(request, platform, actor, ws, form=form, error=message, status=status)
    return see_other(dataset_url(ws, slug), f"Dataset '{name.strip()}' created.")


@router.get("/w/{ws}/datasets/{ref}")
def dataset_page(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    ref: str,
    version: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    return render_dataset(request, platform, actor, ws, ref, version.strip() or None)


@router.get("/w/{ws}/datasets/{ref}/versions/{version}/files/{name}/profile")
def profile_fragment(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    ref: str,
    version: str,
    name: str,
) -> Response:
    """A table's profile; while it is computed, the fragment asks for itself again."""
    with units.work(platform.db, actor, ws, Action.DATASET_READ) as (session, access):
        dataset = datasets.get(session, access, ref)
        chosen = datasets.get_version(
            session, dataset, version, drafts=datasets.sees_drafts(access, dataset)
        )
        row = datasets.get_file(session, chosen, name)
        dataset_reads.check_table(row)
        view = file_view(session, ws, datasets.ref_of(access, dataset), chosen, row, 0)
    return render(request, "datasets/_profile.html", {"f": view})
