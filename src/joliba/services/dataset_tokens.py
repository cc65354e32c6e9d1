"""Read-only tokens for one dataset (``jld_…``), for BI tools and other systems.

A token reads the dataset's published versions through the API and nothing else; it acts
for the person who created it, so it stops working if they leave the workspace.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from joliba.db.tables import Dataset, DatasetToken, User, utcnow
from joliba.domain.errors import Forbidden, Invalid, NotFound
from joliba.domain.permissions import Action
from joliba.domain.slugs import check_name
from joliba.services import audit
from joliba.services.actors import Actor
from joliba.services.crypto import new_token, token_hash
from joliba.services.workspaces import Access

PREFIX = "jld_"


def list_for(session: Session, dataset: Dataset) -> Sequence[DatasetToken]:
    return session.scalars(
        select(DatasetToken)
        .where(DatasetToken.dataset_id == dataset.id)
        .order_by(DatasetToken.created_at.desc())
    ).all()


def create(
    session: Session,
    access: Access,
    dataset: Dataset,
    *,
    name: str,
    expires_in_days: int | None = None,
) -> tuple[DatasetToken, str]:
    """A new token and its secret, shown once."""
    access.demand(Action.DATASET_SHARE)
    if access.actor.run_id is not None:
        raise Forbidden("a pipeline run's token cannot create tokens")
    if expires_in_days is not None and expires_in_days < 1:
        raise Invalid("expires_in_days: at least 1", details={"field": "expires_in_days"})
    secret = new_token(PREFIX)
    token = DatasetToken(
        dataset_id=dataset.id,
        name=check_name(name),
        prefix=secret[:8],
        token_hash=token_hash(secret),
        created_by_id=access.actor.user.id,
        expires_at=utcnow() + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        "dataset.token.create",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{dataset.slug} {token.name}",
    )
    return token, secret


def revoke(session: Session, access: Access, dataset: Dataset, token_id: uuid.UUID) -> None:
    access.demand(Action.DATASET_SHARE)
    token = session.get(DatasetToken, token_id)
    if token is None or token.dataset_id != dataset.id:
        raise NotFound(f"dataset '{dataset.slug}' has no token {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        audit.record(
            session,
            "dataset.token.revoke",
            actor=access.actor,
            workspace=access.workspace,
            target=f"{dataset.slug} {token.name}",
        )


def revoke_all_of(session: Session, user: User, *, reason: str, actor: Actor | None = None) -> int:
    """Revoke every live dataset token ``user`` created (a password reset, a deactivation),
    each audited in its dataset's workspace with ``reason``; the number revoked."""
    live = session.execute(
        select(DatasetToken, Dataset)
        .join(Dataset, Dataset.id == DatasetToken.dataset_id)
        .where(DatasetToken.created_by_id == user.id, DatasetToken.revoked_at.is_(None))
    ).all()
    now = utcnow()
    for token, dataset in live:
        token.revoked_at = now
        audit.record(
            session,
            "dataset.token.revoke",
            actor=actor,
            workspace=dataset.workspace,
            target=f"{dataset.slug} {token.name}",
            details={"reason": reason, "user": user.email},
        )
    session.flush()
    return len(live)


def resolve(session: Session, secret: str) -> tuple[DatasetToken, Dataset, User] | None:
    """The live token for ``secret`` with its dataset and the person it acts for."""
    if not secret.startswith(PREFIX):
        return None
    token = session.scalar(
        select(DatasetToken).where(DatasetToken.token_hash == token_hash(secret))
    )
    if token is None or token.revoked_at is not None or token.created_by_id is None:
        return None
    if token.expires_at is not None and token.expires_at <= utcnow():
        return None
    dataset = session.get(Dataset, token.dataset_id)
    user = session.get(User, token.created_by_id)
    if dataset is None or user is None or not user.is_active:
        return None
    return token, dataset, user


def touch(token: DatasetToken) -> datetime | None:
    """When to record as last use (at most once a minute, to spare a write per request)."""
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        return now
    return None


def record_use(session: Session, token_id: uuid.UUID, when: datetime) -> None:
    session.execute(
        update(DatasetToken).where(DatasetToken.id == token_id).values(last_used_at=when)
    )
