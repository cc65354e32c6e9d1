"""Workspaces, and the one place that decides whether an actor may act in one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joliba.db.tables import Membership, User, Workspace
from joliba.domain.errors import Conflict, Forbidden, Invalid, NotFound
from joliba.domain.paging import PageRequest
from joliba.domain.permissions import READ_ACTIONS, Action, Role, allows
from joliba.domain.slugs import check_name, check_slug, slugify
from joliba.services import audit, commit_events
from joliba.services.actors import Actor


class AccessMismatch(RuntimeError):
    """A service was handed an access proving another action: a wiring bug, never a user's."""


@dataclass(frozen=True)
class Access:
    """Proof that ``actor`` may do ``action`` in ``workspace``; services take it as input."""

    workspace: Workspace
    actor: Actor
    role: Role | None
    #: The action ``authorize`` checked; services that write demand their own.
    action: Action

    def allows(self, action: Action) -> bool:
        return allows(self.role, action, superuser=self.actor.is_superuser)

    def demand(self, action: Action) -> None:
        """Called by a service that does ``action``: the caller must have authorised exactly
        it, so a route that checked a weaker action cannot reach a stronger write."""
        if self.action is not action:
            raise AccessMismatch(
                f"this access proves {self.action.value}, but {action.value} was attempted"
            )


def _not_found(slug: str) -> NotFound:
    return NotFound(f"workspace '{slug}' not found")


def role_of(session: Session, actor: Actor, workspace: Workspace) -> Role | None:
    value = session.scalar(
        select(Membership.role).where(
            Membership.workspace_id == workspace.id, Membership.user_id == actor.user.id
        )
    )
    return Role(value) if value else None


def authorize(session: Session, actor: Actor, slug: str, action: Action) -> Access:
    """Load workspace ``slug`` for ``action`` or raise.

    Outsiders, and tokens restricted to another workspace, get the same NotFound as for a
    workspace that does not exist. Members whose role falls short get Forbidden. Archived
    workspaces are read-only except for un-archiving.
    """
    workspace = session.scalar(select(Workspace).where(Workspace.slug == slug))
    if workspace is None:
        raise _not_found(slug)
    if actor.token_workspace_id is not None and actor.token_workspace_id != workspace.id:
        raise _not_found(slug)
    role = role_of(session, actor, workspace)
    if role is None and not actor.is_superuser:
        raise _not_found(slug)
    if actor.token_dataset_id is not None and action is not Action.DATASET_READ:
        raise Forbidden("a dataset token may only read its dataset")
    access = Access(workspace=workspace, actor=actor, role=role, action=action)
    if not access.allows(action):
        raise Forbidden(
            f"your role in '{slug}' ({role.value if role else 'none'}) does not allow "
            f"{action.value}"
        )
    if workspace.archived and refused_when_archived(action):
        raise Conflict(f"workspace '{slug}' is archived; unarchive it first")
    return access


def refused_when_archived(action: Action) -> bool:
    """Whether an archived workspace refuses ``action``: everything but reading it and
    unarchiving it."""
    return action not in READ_ACTIONS and action is not Action.WORKSPACE_UPDATE


def get_visible(session: Session, actor: Actor, slug: str) -> Workspace:
    return authorize(session, actor, slug, Action.WORKSPACE_VIEW).workspace


def list_for(
    session: Session, actor: Actor, page: PageRequest, *, search: str = ""
) -> tuple[Sequence[tuple[Workspace, Role | None]], int]:
    query = select(Workspace, Membership.role).outerjoin(
        Membership,
        (Membership.workspace_id == Workspace.id) & (Membership.user_id == actor.user.id),
    )
    if actor.token_workspace_id is not None:
        query = query.where(Workspace.id == actor.token_workspace_id)
    if not actor.is_superuser:
        query = query.where(Membership.id.is_not(None))
    if search:
        like = f"%{search.lower()}%"
        query = query.where(func.lower(Workspace.name).like(like) | Workspace.slug.like(like))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.execute(
        query.order_by(Workspace.archived, func.lower(Workspace.name))
        .offset(page.offset)
        .limit(page.limit)
    ).all()
    return [(ws, Role(role) if role else None) for ws, role in rows], total


def by_slug(session: Session, slug: str) -> Workspace:
    """For the server's own CLI, which acts as the instance itself: no actor to authorise."""
    workspace = session.scalar(select(Workspace).where(Workspace.slug == slug))
    if workspace is None:
        raise _not_found(slug)
    return workspace


def all_with_member_counts(session: Session) -> list[tuple[Workspace, int]]:
    """Every workspace, by slug, with its number of members (for the server's CLI)."""
    counts: dict[object, int] = {}
    for workspace_id, count in session.execute(
        select(Membership.workspace_id, func.count()).group_by(Membership.workspace_id)
    ):
        counts[workspace_id] = count
    rows = session.scalars(select(Workspace).order_by(Workspace.slug))
    return [(w, counts.get(w.id, 0)) for w in rows]


def check_time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            f"time_zone: unknown time zone '{value}' (use an IANA name such as Africa/Bamako)",
            details={"field": "time_zone"},
        ) from None
    return value


def time_zones() -> list[str]:
    return sorted(available_timezones())


def create(
    session: Session,
    actor: Actor | None,
    *,
    name: str,
    slug: str | None = None,
    description: str = "",
    time_zone: str = "UTC",
    admin: User | None = None,
) -> Workspace:
    """Create a workspace; its admin is ``admin`` or else the acting user.

    Through the API and pages only superusers may; ``actor=None`` is the server's own CLI.
    """
    if actor is not None and (not actor.is_superuser or actor.restricted):
        raise Forbidden("only superusers can create workspaces")
    owner = admin or (actor.user if actor else None)
    if owner is None:
        raise Invalid("admin: a workspace needs an admin", details={"field": "admin"})
    name = check_name(name)
    slug = check_slug(slug if slug else slugify(name))
    if session.scalar(select(Workspace.id).where(Workspace.slug == slug)):
        raise Conflict(f"slug: a workspace '{slug}' already exists", details={"field": "slug"})
    workspace = Workspace(
        slug=slug,
        name=name,
        description=description.strip(),
        time_zone=check_time_zone(time_zone),
    )
    session.add(workspace)
    session.flush()
    session.add(Membership(workspace_id=workspace.id, user_id=owner.id, role=Role.ADMIN))
    audit.record(
        session,
        "workspace.create",
        actor=actor,
        email="" if actor else "cli",
        workspace=workspace,
        target=slug,
        details={"admin": owner.email},
    )
    commit_events.announce(session, commit_events.WORKSPACE_DATABASE_CHANGED, workspace.id)
    return workspace


def update(
    session: Session,
    access: Access,
    *,
    name: str | None = None,
    description: str | None = None,
    time_zone: str | None = None,
    archived: bool | None = None,
) -> Workspace:
    access.demand(Action.WORKSPACE_UPDATE)
    workspace = access.workspace
    changes: dict[str, object] = {}
    if name is not None and name.strip() != workspace.name:
        workspace.name = changes["name"] = check_name(name)
    if description is not None and description.strip() != workspace.description:
        workspace.description = description.strip()
        changes["description"] = "changed"
    if time_zone is not None and time_zone != workspace.time_zone:
        workspace.time_zone = changes["time_zone"] = check_time_zone(time_zone)
    if archived is not None and archived != workspace.archived:
        workspace.archived = changes["archived"] = archived
        commit_events.announce(session, commit_events.WORKSPACE_DATABASE_CHANGED, workspace.id)
    if changes:
        session.flush()
        audit.record(
            session,
            "workspace.update",
            actor=access.actor,
            workspace=workspace,
            target=workspace.slug,
            details=changes,
        )
    return workspace
