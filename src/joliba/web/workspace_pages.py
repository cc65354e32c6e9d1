"""The list of workspaces (with creation for superusers) and each workspace's home page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from joliba.domain.errors import Conflict, Invalid
from joliba.domain.paging import MAX_PAGE, PageRequest
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.services import connections, files, members, quotas, units, workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.services.workspaces import Access
from joliba.storage.files import Entry
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.forms import problem, see_other
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 50
RECENT_FILES = 5

Name = Annotated[str, Form(max_length=200)]
Description = Annotated[str, Form(max_length=10_000)]
TimeZone = Annotated[str, Form(max_length=64)]


@router.get("/workspaces")
def workspace_list(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    return _list_page(request, platform, actor, page)


@router.post("/workspaces")
def workspace_create(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    name: Name,
    slug: Annotated[str, Form(max_length=64)] = "",
    description: Description = "",
    time_zone: TimeZone = "UTC",
) -> Response:
    try:
        with platform.db.transaction() as session:
            created = workspaces.create(
                session,
                actor,
                name=name,
                slug=slug.strip() or None,
                description=description,
                time_zone=time_zone,
            )
    except (Invalid, Conflict) as exc:
        message, status = problem(exc)
        form = {"name": name, "slug": slug, "description": description, "time_zone": time_zone}
        return _list_page(request, platform, actor, 1, form=form, error=message, status=status)
    return see_other(f"/w/{created.slug}", f"Workspace '{created.name}' created.")


def _list_page(
    request: Request,
    platform: Platform,
    actor: Actor,
    page: int,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    with platform.db.session(write=False) as session:
        rows, total = workspaces.list_for(
            session, actor, PageRequest(page=page, page_size=PAGE_SIZE)
        )
    context: dict[str, Any] = {
        "rows": rows,
        "page": page,
        "page_size": PAGE_SIZE,
        "total": total,
        "can_create": actor.is_superuser,
        "time_zones": workspaces.time_zones(),
        "form": form or {"time_zone": "UTC"},
        "error": error,
    }
    return render(request, "workspaces.html", context, status=status)


@router.get("/w/{ws}")
def workspace_home(request: Request, platform: PlatformDep, actor: PageActor, ws: str) -> Response:
    return _home(request, platform, actor, ws)


@router.post("/w/{ws}/settings")
def workspace_settings(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    name: Name,
    description: Description = "",
    time_zone: TimeZone = "UTC",
) -> Response:
    try:
        with units.work(platform.db, actor, ws, Action.WORKSPACE_UPDATE) as (session, access):
            workspaces.update(
                session, access, name=name, description=description, time_zone=time_zone
            )
    except (Invalid, Conflict) as exc:
        message, status = problem(exc)
        form = {"name": name, "description": description, "time_zone": time_zone}
        return _home(request, platform, actor, ws, form=form, error=message, status=status)
    return see_other(f"/w/{ws}", "Settings saved.")


@router.post("/w/{ws}/archive")
def workspace_archive(
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    archived: Annotated[bool, Form()],
) -> Response:
    with units.work(platform.db, actor, ws, Action.WORKSPACE_UPDATE) as (session, access):
        workspaces.update(session, access, archived=archived)
    return see_other(f"/w/{ws}", "Workspace archived." if archived else "Workspace unarchived.")


def _home(
    request: Request,
    platform: Platform,
    actor: Actor,
    ws: str,
    *,
    form: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
) -> Response:
    with units.work(platform.db, actor, ws, Action.WORKSPACE_VIEW) as (session, access):
        one = PageRequest(page_size=1)
        _, member_count = members.list_members(session, access.workspace, one)
        _, connection_count = connections.list_for(session, access, one)
    workspace = access.workspace
    context = workspace_context(
        access,
        "home",
        member_count=member_count,
        connection_count=connection_count,
        recent=_recent_files(platform, access),
        usage=quotas.usage(platform.store, workspace, platform.settings.workspace_quota_mb),
        can_update=access.allows(Action.WORKSPACE_UPDATE),
        time_zones=workspaces.time_zones(),
        form=form
        or {
            "name": workspace.name,
            "description": workspace.description,
            "time_zone": workspace.time_zone,
        },
        error=error,
    )
    return render(request, "workspace_home.html", context, status=status)


def _recent_files(platform: Platform, access: Access) -> list[Entry]:
    """The latest files at the top of the workspace (a listing, not a recursive scan)."""
    entries = [e for e in files.list_folder(platform.store, access, "") if e.type == "file"]
    entries.sort(key=lambda e: e.modified.timestamp() if e.modified else 0.0, reverse=True)
    return entries[:RECENT_FILES]
