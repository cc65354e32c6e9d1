"""Invitations: single-use links that expire, tied to one email address and one role."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Invitation, Membership, User, utcnow
from joliba.domain.errors import Conflict, Forbidden, NotFound
from joliba.domain.paging import PageRequest
from joliba.domain.permissions import Action, Role
from joliba.services import audit, members, users
from joliba.services.actors import Actor
from joliba.services.crypto import new_token, token_hash
from joliba.services.paging import paginate
from joliba.services.workspaces import Access


@dataclass(frozen=True)
class CreatedInvitation:
    invitation: Invitation
    secret: str


def create(
    session: Session, access: Access, *, email: str, role: Role, lifetime: timedelta
) -> CreatedInvitation:
    access.demand(Action.MEMBER_MANAGE)
    if access.actor.run_id is not None:
        # A run acts for a person only to do its work; it may not give anyone lasting access.
        raise Forbidden("a pipeline run's token cannot invite people")
    email = users.normalise_email(email)
    user = users.get_by_email(session, email)
    if user is not None and session.scalar(
        select(Membership.id).where(
            Membership.workspace_id == access.workspace.id, Membership.user_id == user.id
        )
    ):
        raise Conflict(f"email: {email} is already a member", details={"field": "email"})
    secret = new_token("inv_")
    invitation = Invitation(
        workspace_id=access.workspace.id,
        email=email,
        role=role.value,
        token_hash=token_hash(secret),
        invited_by_id=access.actor.user.id,
        expires_at=utcnow() + lifetime,
    )
    session.add(invitation)
    session.flush()
    audit.record(
        session,
        "member.invite",
        actor=access.actor,
        workspace=access.workspace,
        target=email,
        details={"role": role.value, "invitation_id": str(invitation.id)},
    )
    return CreatedInvitation(invitation=invitation, secret=secret)


def list_pending(
    session: Session, access: Access, page: PageRequest
) -> tuple[Sequence[Invitation], int]:
    query = select(Invitation).where(
        Invitation.workspace_id == access.workspace.id,
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > utcnow(),
    )
    return paginate(session, query, page, Invitation.created_at.desc())


def revoke(session: Session, access: Access, invitation_id: uuid.UUID) -> None:
    access.demand(Action.MEMBER_MANAGE)
    invitation = session.get(Invitation, invitation_id)
    if (
        invitation is None
        or invitation.workspace_id != access.workspace.id
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
    ):
        raise NotFound("invitation not found")
    invitation.revoked_at = utcnow()
    audit.record(
        session,
        "member.invite_revoke",
        actor=access.actor,
        workspace=access.workspace,
        target=invitation.email,
    )


def find_open(session: Session, secret: str) -> Invitation:
    """The invitation for a link, if it can still be used."""
    invitation = session.scalar(
        select(Invitation).where(Invitation.token_hash == token_hash(secret))
    )
    if invitation is None or invitation.revoked_at is not None:
        raise NotFound("this invitation link is not valid")
    if invitation.accepted_at is not None:
        raise Conflict("this invitation has already been used")
    if invitation.expires_at <= utcnow():
        raise Conflict("this invitation has expired; ask for a new one")
    return invitation


def accept(session: Session, secret: str, user: User, *, client_ip: str = "") -> Invitation:
    invitation = find_open(session, secret)
    if user.email != invitation.email:
        raise Forbidden(
            f"this invitation is for {invitation.email}; sign in with that address to accept it"
        )
    invitation.accepted_at = utcnow()
    actor = Actor(user=user, client_ip=client_ip)
    members.add(session, actor, invitation.workspace, user, Role(invitation.role))
    return invitation


def accept_as_new_user(
    session: Session, secret: str, *, password: str, name: str = "", client_ip: str = ""
) -> User:
    invitation = find_open(session, secret)
    if users.get_by_email(session, invitation.email) is not None:
        raise Conflict(f"{invitation.email} already has an account: sign in to accept")
    user = users.create_user(session, email=invitation.email, password=password, name=name)
    accept(session, secret, user, client_ip=client_ip)
    return user
