"""The audit log of a workspace (admins): who did what, when and from where."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from joliba.domain.paging import MAX_PAGE, PageRequest
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.services import audit, units
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 50
#: Offered in the filter; it matches by prefix, so "file" covers every file action.
ACTION_FILTERS = (
    "workspace",
    "member",
    "file",
    "file.download",
    "file.upload",
    "file.delete",
    "connection",
    "token",
)


@router.get("/w/{ws}/audit")
def audit_log(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    action: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    action = action.strip()
    with units.work(platform.db, actor, ws, Action.AUDIT_READ) as (session, access):
        rows, total = audit.list_for_workspace(
            session,
            access.workspace,
            PageRequest(page=page, page_size=PAGE_SIZE),
            action=action or None,
        )
    context = workspace_context(
        access,
        "audit",
        rows=rows,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        action=action,
        filters=ACTION_FILTERS,
    )
    return render(request, "audit.html", context)
