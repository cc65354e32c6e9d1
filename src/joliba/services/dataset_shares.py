"""Sharing a dataset with other workspaces: read-only for their members, revocable."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Dataset, DatasetShare, Workspace
from joliba.domain.errors import Conflict, Invalid, NotFound
from joliba.domain.permissions import Action
from joliba.services import audit
from joliba.services.workspaces import Access


def list_for(session: Session, dataset: Dataset) -> Sequence[tuple[DatasetShare, Workspace]]:
    rows = session.execute(
        select(DatasetShare, Workspace)
        .join(Workspace, Workspace.id == DatasetShare.workspace_id)
        .where(DatasetShare.dataset_id == dataset.id)
        .order_by(Workspace.slug)
    ).all()
    return [(row[0], row[1]) for row in rows]


def share(session: Session, access: Access, dataset: Dataset, workspace_slug: str) -> Workspace:
    """Let the members of ``workspace_slug`` read every published version of ``dataset``."""
    access.demand(Action.DATASET_SHARE)
    target = session.scalar(select(Workspace).where(Workspace.slug == workspace_slug))
    if target is None:
        raise NotFound(f"workspace '{workspace_slug}' not found", details={"field": "workspace"})
    if target.id == dataset.workspace_id:
        raise Invalid(
            "workspace: a dataset is already visible in its own workspace",
            details={"field": "workspace"},
        )
    if session.scalar(
        select(DatasetShare.id).where(
            DatasetShare.dataset_id == dataset.id, DatasetShare.workspace_id == target.id
        )
    ):
        raise Conflict(f"'{dataset.slug}' is already shared with '{workspace_slug}'")
    session.add(
        DatasetShare(
            dataset_id=dataset.id, workspace_id=target.id, created_by_id=access.actor.user.id
        )
    )
    session.flush()
    audit.record(
        session,
        "dataset.share",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{dataset.slug} -> {workspace_slug}",
    )
    return target


def revoke(session: Session, access: Access, dataset: Dataset, workspace_slug: str) -> None:
    access.demand(Action.DATASET_SHARE)
    found = session.scalar(
        select(DatasetShare)
        .join(Workspace, Workspace.id == DatasetShare.workspace_id)
        .where(DatasetShare.dataset_id == dataset.id, Workspace.slug == workspace_slug)
    )
    if found is None:
        raise NotFound(f"'{dataset.slug}' is not shared with '{workspace_slug}'")
    session.delete(found)
    session.flush()
    audit.record(
        session,
        "dataset.unshare",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{dataset.slug} -> {workspace_slug}",
    )
