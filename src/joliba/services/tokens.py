"""Personal API tokens: shown once, stored hashed, optionally expiring or tied to a workspace."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from joliba.db.tables import ApiToken, User, utcnow
from joliba.domain.errors import Forbidden, Invalid, NotFound
from joliba.domain.paging import PageRequest
from joliba.services import audit, workspaces
from joliba.services.actors import Actor
from joliba.services.crypto import new_token, token_hash
from joliba.services.paging import paginate

PREFIX = "jlb_"
MAX_DAYS = 3650


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str


def create(
    session: Session,
    actor: Actor,
    *,
    name: str,
    workspace_slug: str | None = None,
    expires_in_days: int | None = None,
) -> CreatedToken:
    """Create a token for the acting user; a restricted token may not mint new tokens."""
    if actor.run_id is not None:
        raise Forbidden("a pipeline run's token cannot create tokens")
    if actor.restricted:
        raise Forbidden("a token restricted to a workspace cannot create tokens")
    name = name.strip()
    if not name or len(name) > 200:
        raise Invalid("name: 1 to 200 characters", details={"field": "name"})
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_DAYS:
        raise Invalid(
            f"expires_in_days: between 1 and {MAX_DAYS}", details={"field": "expires_in_days"}
        )
    workspace = None
    if workspace_slug:
        workspace = workspaces.get_visible(session, actor, workspace_slug)
    secret = new_token(PREFIX)
    token = ApiToken(
        user_id=actor.user.id,
        name=name,
        prefix=secret[: len(PREFIX) + 4],
        token_hash=token_hash(secret),
        workspace_id=workspace.id if workspace else None,
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        "token.create",
        actor=actor,
        workspace=workspace,
        target=f"{token.prefix}… ({name})",
        details={"token_id": str(token.id), "expires_in_days": expires_in_days},
    )
    return CreatedToken(token=token, secret=secret)


def list_for(session: Session, user: User, page: PageRequest) -> tuple[Sequence[ApiToken], int]:
    query = select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    return paginate(session, query, page, ApiToken.created_at.desc())


def revoke(session: Session, actor: Actor, token_id: uuid.UUID) -> None:
    if actor.restricted:
        raise Forbidden("a token restricted to a workspace cannot revoke tokens")
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.user.id or token.revoked_at is not None:
        raise NotFound("token not found")
    _revoke(session, token, actor, utcnow())


def revoke_all(session: Session, user: User, *, reason: str, actor: Actor | None = None) -> int:
    """Revoke every live token of ``user`` (a password reset, a deactivation), each audited
    with ``reason``; the number revoked."""
    live = session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for token in live:
        _revoke(session, token, actor, now, reason=reason, user=user.email)
    session.flush()
    return len(live)


def _revoke(
    session: Session, token: ApiToken, actor: Actor | None, now: datetime, **why: str
) -> None:
    token.revoked_at = now
    audit.record(
        session,
        "token.revoke",
        actor=actor,
        workspace=token.workspace,
        target=f"{token.prefix}… ({token.name})",
        details={"token_id": str(token.id), **why},
    )


def resolve(session: Session, secret: str) -> ApiToken | None:
    """The live token for ``secret``, or None (unknown, revoked, expired, inactive user)."""
    if not secret.startswith(PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(secret)))
    now = utcnow()
    if token is None or token.revoked_at is not None or not token.user.is_active:
        return None
    if token.expires_at is not None and token.expires_at <= now:
        return None
    return token


def touch(token: ApiToken) -> bool:
    """Record use at most once a minute, to spare a write per request."""
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        token.last_used_at = now
        return True
    return False


def record_use(session: Session, token_id: uuid.UUID, when: datetime | None) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=when))
