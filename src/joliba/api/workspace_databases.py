"""A workspace's own database: its connection details, and new passwords for its roles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from joliba.http.deps import ActorDep, PlatformDep
from joliba.schemas.workspace_databases import WorkspaceDatabase

router = APIRouter(tags=["workspace database"])


@router.get(
    "/workspaces/{ws}/database",
    response_model=WorkspaceDatabase,
    summary="The workspace database's connection details",
)
def get_database(
    ws: str,
    actor: ActorDep,
    platform: PlatformDep,
    reveal: Annotated[
        bool,
        Query(description="Include the passwords (editors and admins; recorded in the audit log)"),
    ] = False,
) -> WorkspaceDatabase:
    details = platform.databases.details(actor, ws, reveal=reveal)
    return WorkspaceDatabase.model_validate(details)


@router.post(
    "/workspaces/{ws}/database/rotate",
    response_model=WorkspaceDatabase,
    summary="New passwords for the workspace database's roles (the old ones stop working)",
)
def rotate_passwords(ws: str, actor: ActorDep, platform: PlatformDep) -> WorkspaceDatabase:
    return WorkspaceDatabase.model_validate(platform.databases.rotate(actor, ws))
