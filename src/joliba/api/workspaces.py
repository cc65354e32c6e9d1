"""Workspaces: list, create (superusers), show, update (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from joliba.api.deps import ActorDep, Paging, ReadDB, WriteDB, page_of, require
from joliba.db.tables import Workspace as WorkspaceRow
from joliba.domain.permissions import Action, Role
from joliba.schemas.common import Page
from joliba.schemas.workspaces import Workspace, WorkspaceCreate, WorkspaceUpdate
from joliba.services import workspaces
from joliba.services.workspaces import Access

router = APIRouter(tags=["workspaces"])


def workspace_out(row: WorkspaceRow, role: Role | None) -> Workspace:
    out = Workspace.model_validate(row)
    out.role = role
    return out


@router.get("/workspaces", response_model=Page[Workspace], summary="Workspaces you can see")
def list_workspaces(
    actor: ActorDep,
    session: ReadDB,
    page: Paging,
    search: Annotated[str, Query(max_length=200, description="Part of a name or slug")] = "",
) -> Page[Workspace]:
    rows, total = workspaces.list_for(session, actor, page, search=search)
    return page_of([workspace_out(ws, role) for ws, role in rows], page, total)


@router.post("/workspaces", status_code=201, response_model=Workspace, summary="Create a workspace")
def create_workspace(body: WorkspaceCreate, actor: ActorDep, session: WriteDB) -> Workspace:
    row = workspaces.create(
        session,
        actor,
        name=body.name,
        slug=body.slug,
        description=body.description,
        time_zone=body.time_zone,
    )
    session.commit()
    return workspace_out(row, Role.ADMIN)


@router.get("/workspaces/{ws}", response_model=Workspace, summary="One workspace")
def get_workspace(
    access: Annotated[Access, Depends(require(Action.WORKSPACE_VIEW))], session: ReadDB
) -> Workspace:
    return workspace_out(access.workspace, access.role)


@router.patch("/workspaces/{ws}", response_model=Workspace, summary="Update a workspace")
def update_workspace(
    body: WorkspaceUpdate,
    access: Annotated[Access, Depends(require(Action.WORKSPACE_UPDATE))],
    session: WriteDB,
) -> Workspace:
    row = workspaces.update(
        session,
        access,
        name=body.name,
        description=body.description,
        time_zone=body.time_zone,
        archived=body.archived,
    )
    session.commit()
    return workspace_out(row, access.role)
