"""Workspaces: list, create (superusers), show, update (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from joliba.db.tables import Workspace as WorkspaceRow
from joliba.domain.permissions import Action, Role
from joliba.http.deps import ActorDep, Paging, PlatformDep, ReadDB, WriteDB, page_of, require
from joliba.schemas.common import Page
from joliba.schemas.workspaces import (
    QuotaUpdate,
    Workspace,
    WorkspaceCreate,
    WorkspaceUpdate,
    WorkspaceUsage,
)
from joliba.services import quotas, workspaces
from joliba.services.platform import Platform
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
    return workspace_out(row, access.role)


def usage_out(platform: Platform, row: WorkspaceRow) -> WorkspaceUsage:
    usage = quotas.usage(platform.store, row, platform.settings.workspace_quota_mb)
    source = "workspace" if row.quota_mb is not None else "instance"
    return WorkspaceUsage(
        files_bytes=usage.used_bytes, quota_mb=usage.quota_mb, quota_source=source
    )


@router.get(
    "/workspaces/{ws}/usage",
    response_model=WorkspaceUsage,
    summary="Disk use of the workspace's files, and its quota",
)
def get_usage(
    access: Annotated[Access, Depends(require(Action.WORKSPACE_VIEW))],
    session: ReadDB,
    platform: PlatformDep,
) -> WorkspaceUsage:
    return usage_out(platform, access.workspace)


@router.put(
    "/workspaces/{ws}/quota",
    response_model=WorkspaceUsage,
    summary="Set the workspace's disk quota (instance admins)",
)
def set_quota(
    body: QuotaUpdate,
    access: Annotated[Access, Depends(require(Action.WORKSPACE_QUOTA))],
    session: WriteDB,
    platform: PlatformDep,
) -> WorkspaceUsage:
    row = quotas.set_quota(session, access, body.quota_mb)
    return usage_out(platform, row)
