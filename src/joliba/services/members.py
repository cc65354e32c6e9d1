"""Memberships: listing, role changes, removal, and direct adds (CLI, invitations)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joliba.db.tables import Membership, User, Workspace
from joliba.domain.errors import Conflict, Invalid, NotFound
from joliba.domain.paging import PageRequest
from joliba.domain.permissions import Action, Role
from joliba.services import audit
from joliba.services.actors import Actor
from joliba.services.paging import paginate
from joliba.services.workspaces import Access


def parse_role(value: str, *, field: str = "role") -> Role:
    try:
        return Role(value)
    except ValueError:
        raise Invalid(
            f"{field}: must be one of admin, editor, viewer", details={"field": field}
        ) from None


def list_members(
    session: Session, workspace: Workspace, page: PageRequest
) -> tuple[Sequence[Membership], int]:
    query = (
        select(Membership)
        .join(User, User.id == Membership.user_id)
        .where(Membership.workspace_id == workspace.id)
    )
    return paginate(session, query, page, User.email)


def _membership(session: Session, workspace: Workspace, user_id: uuid.UUID) -> Membership:
    member = session.scalar(
        select(Membership).where(
            Membership.workspace_id == workspace.id, Membership.user_id == user_id
        )
    )
    if member is None:
        raise NotFound("member not found")
    return member


def _admin_count(session: Session, workspace: Workspace) -> int:
    return (
        session.scalar(
            select(func.count()).where(
                Membership.workspace_id == workspace.id, Membership.role == Role.ADMIN.value
            )
        )
        or 0
    )


def add(
    session: Session, actor: Actor | None, workspace: Workspace, user: User, role: Role
) -> Membership:
    existing = session.scalar(
        select(Membership).where(
            Membership.workspace_id == workspace.id, Membership.user_id == user.id
        )
    )
    if existing is not None:
        raise Conflict(f"{user.email} is already a member of '{workspace.slug}'")
    member = Membership(workspace_id=workspace.id, user_id=user.id, role=role.value)
    session.add(member)
    session.flush()
    audit.record(
        session,
        "member.add",
        actor=actor,
        email="" if actor else "cli",
        workspace=workspace,
        target=user.email,
        details={"role": role.value},
    )
    return member


def set_role(session: Session, access: Access, user_id: uuid.UUID, role: Role) -> Membership:
    access.demand(Action.MEMBER_MANAGE)
    member = _membership(session, access.workspace, user_id)
    if member.role == role.value:
        return member
    if member.role == Role.ADMIN.value and _admin_count(session, access.workspace) <= 1:
        raise Conflict("role: a workspace keeps at least one admin", details={"field": "role"})
    previous = member.role
    member.role = role.value
    session.flush()
    audit.record(
        session,
        "member.role_change",
        actor=access.actor,
        workspace=access.workspace,
        target=member.user.email,
        details={"from": previous, "to": role.value},
    )
    return member


def remove(session: Session, access: Access, user_id: uuid.UUID) -> None:
    access.demand(Action.MEMBER_MANAGE)
    _remove(
        session, access.actor, access.workspace, _membership(session, access.workspace, user_id)
    )


def remove_user(session: Session, workspace: Workspace, user: User) -> None:
    """Remove ``user`` on the server's own authority (the CLI)."""
    _remove(session, None, workspace, _membership(session, workspace, user.id))


def _remove(
    session: Session, actor: Actor | None, workspace: Workspace, member: Membership
) -> None:
    if member.role == Role.ADMIN.value and _admin_count(session, workspace) <= 1:
        raise Conflict("a workspace keeps at least one admin")
    email = member.user.email
    session.delete(member)
    session.flush()
    audit.record(
        session,
        "member.remove",
        actor=actor,
        email="" if actor else "cli",
        workspace=workspace,
        target=email,
        details={"role": member.role},
    )
