"""Members and invitations of a workspace."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from joliba.api.workspaces import workspace_out
from joliba.db.tables import Invitation as InvitationRow
from joliba.db.tables import Membership
from joliba.domain.errors import Forbidden
from joliba.domain.permissions import Action, Role
from joliba.http.callers import client_ip
from joliba.http.deps import (
    ActorDep,
    Paging,
    PlatformDep,
    ReadDB,
    WriteDB,
    page_of,
    require,
)
from joliba.schemas.common import Page
from joliba.schemas.members import (
    Invitation,
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    Member,
    MemberUpdate,
)
from joliba.schemas.workspaces import Workspace
from joliba.services import invitations, members
from joliba.services.workspaces import Access

router = APIRouter(tags=["members"])
ListAccess = Annotated[Access, Depends(require(Action.MEMBER_LIST))]
ManageAccess = Annotated[Access, Depends(require(Action.MEMBER_MANAGE))]


def member_out(row: Membership) -> Member:
    return Member(
        user_id=row.user_id,
        email=row.user.email,
        name=row.user.name,
        role=row.role,
        created_at=row.created_at,
    )


def invitation_url(base_url: str, secret: str) -> str:
    return f"{base_url.rstrip('/')}/invitations/{secret}"


@router.get("/workspaces/{ws}/members", response_model=Page[Member], summary="Members")
def list_members(access: ListAccess, session: ReadDB, page: Paging) -> Page[Member]:
    rows, total = members.list_members(session, access.workspace, page)
    return page_of([member_out(m) for m in rows], page, total)


@router.patch("/workspaces/{ws}/members/{user_id}", response_model=Member, summary="Change a role")
def change_role(
    user_id: uuid.UUID, body: MemberUpdate, access: ManageAccess, session: WriteDB
) -> Member:
    row = members.set_role(session, access, user_id, body.role)
    return member_out(row)


@router.delete("/workspaces/{ws}/members/{user_id}", status_code=204, summary="Remove a member")
def remove_member(user_id: uuid.UUID, access: ManageAccess, session: WriteDB) -> Response:
    members.remove(session, access, user_id)
    return Response(status_code=204)


@router.get(
    "/workspaces/{ws}/invitations", response_model=Page[Invitation], summary="Open invitations"
)
def list_invitations(access: ManageAccess, session: WriteDB, page: Paging) -> Page[Invitation]:
    rows, total = invitations.list_pending(session, access, page)
    return page_of([Invitation.model_validate(i) for i in rows], page, total)


@router.post(
    "/workspaces/{ws}/invitations",
    status_code=201,
    response_model=InvitationCreated,
    summary="Invite someone by email",
)
def invite(
    body: InvitationCreate, access: ManageAccess, session: WriteDB, platform: PlatformDep
) -> InvitationCreated:
    created = invitations.create(
        session,
        access,
        email=body.email,
        role=body.role,
        lifetime=timedelta(days=platform.settings.invitation_days),
    )
    return InvitationCreated(
        **Invitation.model_validate(created.invitation).model_dump(),
        url=invitation_url(platform.settings.base_url, created.secret),
    )


@router.delete(
    "/workspaces/{ws}/invitations/{invitation_id}", status_code=204, summary="Revoke invitation"
)
def revoke_invitation(invitation_id: uuid.UUID, access: ManageAccess, session: WriteDB) -> Response:
    invitations.revoke(session, access, invitation_id)
    return Response(status_code=204)


@router.post("/invitations/accept", response_model=Workspace, summary="Accept an invitation")
def accept_invitation(
    body: InvitationAccept,
    actor: ActorDep,
    session: WriteDB,
    request_ip: Annotated[str, Depends(client_ip)],
) -> Workspace:
    if actor.restricted:
        raise Forbidden("a token restricted to a workspace cannot accept invitations")
    row: InvitationRow = invitations.accept(session, body.token, actor.user, client_ip=request_ip)
    return workspace_out(row.workspace, Role(row.role))
