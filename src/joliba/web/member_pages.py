"""Members of a workspace: roles, removal, and invitations by email (admins)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from joliba.domain.errors import Conflict, Invalid
from joliba.domain.paging import MAX_PAGE, PageRequest
from joliba.domain.permissions import Action, Role
from joliba.http.deps import PlatformDep
from joliba.services import invitations, members, units
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.forms import problem, see_other
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 100

RoleField = Annotated[Role, Form()]


def invitation_link(platform: Platform, secret: str) -> str:
    return f"{platform.settings.base_url.rstrip('/')}/invitations/{secret}"


@router.get("/w/{ws}/members")
def member_list(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    return _page(request, platform, actor, ws, page=page)


@router.post("/w/{ws}/members/{user_id}/role")
def member_role(
    platform: PlatformDep, actor: PageActor, ws: str, user_id: uuid.UUID, role: RoleField
) -> Response:
    with units.work(platform.db, actor, ws, Action.MEMBER_MANAGE) as (session, access):
        member = members.set_role(session, access, user_id, role)
        email = member.user.email
    return see_other(f"/w/{ws}/members", f"{email} is now {role.value}.")


@router.post("/w/{ws}/members/{user_id}/remove")
def member_remove(platform: PlatformDep, actor: PageActor, ws: str, user_id: uuid.UUID) -> Response:
    with units.work(platform.db, actor, ws, Action.MEMBER_MANAGE) as (session, access):
        members.remove(session, access, user_id)
    if user_id == actor.user.id and not actor.is_superuser:
        # You just left: the workspace pages would now answer 404.
        return see_other("/workspaces", "You left the workspace.")
    return see_other(f"/w/{ws}/members", "Member removed.")


@router.post("/w/{ws}/invitations")
def invitation_create(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    email: Annotated[str, Form(max_length=320)],
    role: RoleField = Role.VIEWER,
) -> Response:
    try:
        with units.work(platform.db, actor, ws, Action.MEMBER_MANAGE) as (session, access):
            created = invitations.create(
                session,
                access,
                email=email,
                role=role,
                lifetime=timedelta(days=platform.settings.invitation_days),
            )
            invited = created.invitation.email
    except (Invalid, Conflict) as exc:
        message, status = problem(exc)
        form = {"email": email, "role": role.value}
        return _page(request, platform, actor, ws, form=form, error=message, status=status)
    # Rendered, not redirected: the link must not travel in a URL, and is shown only now.
    return _page(
        request,
        platform,
        actor,
        ws,
        invited={
            "email": invited,
            "role": role.value,
            "link": invitation_link(platform, created.secret),
        },
    )


@router.post("/w/{ws}/invitations/{invitation_id}/revoke")
def invitation_revoke(
    platform: PlatformDep, actor: PageActor, ws: str, invitation_id: uuid.UUID
) -> Response:
    with units.work(platform.db, actor, ws, Action.MEMBER_MANAGE) as (session, access):
        invitations.revoke(session, access, invitation_id)
    return see_other(f"/w/{ws}/members", "Invitation revoked.")


def _page(
    request: Request,
    platform: Platform,
    actor: Actor,
    ws: str,
    *,
    page: int = 1,
    form: dict[str, str] | None = None,
    error: str = "",
    status: int = 200,
    invited: dict[str, str] | None = None,
) -> Response:
    with units.work(platform.db, actor, ws, Action.MEMBER_LIST) as (session, access):
        rows, total = members.list_members(
            session, access.workspace, PageRequest(page=page, page_size=PAGE_SIZE)
        )
        manage = access.allows(Action.MEMBER_MANAGE)
        pending: list[Any] = []
        if manage:
            pending = list(invitations.list_pending(session, access, PageRequest(page_size=200))[0])
    context = workspace_context(
        access,
        "members",
        rows=rows,
        page=page,
        page_size=PAGE_SIZE,
        total=total,
        manage=manage and not access.workspace.archived,
        pending=pending,
        form=form or {"email": "", "role": Role.VIEWER.value},
        error=error,
        invited=invited,
        invitation_days=platform.settings.invitation_days,
    )
    return render(request, "members.html", context, status=status)
