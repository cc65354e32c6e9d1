"""The workspace file browser: folders, new folder, rename or move, delete.

Uploads and downloads do not pass through these pages: static/joliba.js streams each file
to the API's PUT endpoint, and download links point at the API's GET endpoint, so the
bytes never sit in a multipart form or in this process's memory.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from joliba.domain.errors import Conflict, Invalid, NotFound
from joliba.domain.paths import clean_path, name_of
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.services import files, units, workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.services.workspaces import Access
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.forms import problem, see_other
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])

PathField = Annotated[str, Form(max_length=1024)]


def listing_url(ws: str, folder: str) -> str:
    return f"/w/{ws}/files" + (f"?{urlencode({'path': folder})}" if folder else "")


@router.get("/w/{ws}/files")
def file_list(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    path: Annotated[str, Query(max_length=1024)] = "",
) -> Response:
    return _page(request, platform, actor, ws, path)


@router.post("/w/{ws}/files/folder")
def folder_create(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    name: Annotated[str, Form(max_length=255)],
    folder: PathField = "",
) -> Response:
    access = _authorize(platform, actor, ws, Action.FILE_WRITE)
    try:
        created = files.make_folder(platform.store, access, _join(folder, name.strip()))
    except (Invalid, Conflict) as exc:
        message, status = problem(exc)
        return _page(request, platform, actor, ws, folder, error=message, status=status)
    return see_other(listing_url(ws, folder), f"Folder '{name_of(created)}' created.")


@router.post("/w/{ws}/files/move")
def file_move(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    source: PathField,
    destination: PathField,
    folder: PathField = "",
) -> Response:
    access = _authorize(platform, actor, ws, Action.FILE_WRITE)
    try:
        _, moved = files.move(platform.store, access, source, destination.strip())
    except (Invalid, Conflict, NotFound) as exc:
        message, status = problem(exc)
        return _page(request, platform, actor, ws, folder, error=message, status=status)
    return see_other(listing_url(ws, folder), f"'{source}' is now '{moved}'.")


@router.post("/w/{ws}/files/delete")
def file_delete(
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    path: PathField,
    folder: PathField = "",
) -> Response:
    with units.work(platform.db, actor, ws, Action.FILE_DELETE) as (session, access):
        files.delete(session, platform.store, access, path)
    return see_other(listing_url(ws, folder), f"'{path}' deleted.")


def _authorize(platform: Platform, actor: Actor, ws: str, action: Action) -> Access:
    # Folder creation and moves are not audited: a read session is enough to check access.
    with platform.db.session(write=False) as session:
        return workspaces.authorize(session, actor, ws, action)


def _join(folder: str, name: str) -> str:
    return f"{folder.rstrip('/')}/{name}" if folder else name


def _page(
    request: Request,
    platform: Platform,
    actor: Actor,
    ws: str,
    path: str,
    *,
    error: str = "",
    status: int = 200,
) -> Response:
    access = _authorize(platform, actor, ws, Action.FILE_READ)
    folder = clean_path(path, allow_root=True)
    entries = files.list_folder(platform.store, access, folder)
    crumbs: list[tuple[str, str]] = []
    if folder:
        parts = folder.split("/")
        crumbs = [(part, "/".join(parts[: i + 1])) for i, part in enumerate(parts)]
    archived = access.workspace.archived
    context = workspace_context(
        access,
        "files",
        folder=folder,
        crumbs=crumbs,
        entries=entries,
        can_write=access.allows(Action.FILE_WRITE) and not archived,
        can_delete=access.allows(Action.FILE_DELETE) and not archived,
        error=error,
    )
    return render(request, "files.html", context, status=status)
