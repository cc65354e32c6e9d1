"""The audit log of a workspace (admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from joliba.domain.permissions import Action
from joliba.http.deps import Paging, ReadDB, page_of, require
from joliba.schemas.audit import AuditEntry
from joliba.schemas.common import Page
from joliba.services import audit
from joliba.services.workspaces import Access

router = APIRouter(tags=["audit"])


@router.get("/workspaces/{ws}/audit", response_model=Page[AuditEntry], summary="Audit log")
def list_audit(
    access: Annotated[Access, Depends(require(Action.AUDIT_READ))],
    session: ReadDB,
    page: Paging,
    action: Annotated[
        str | None, Query(max_length=64, description="Only actions starting with this")
    ] = None,
) -> Page[AuditEntry]:
    rows, total = audit.list_for_workspace(session, access.workspace, page, action=action)
    return page_of([AuditEntry.model_validate(e) for e in rows], page, total)
