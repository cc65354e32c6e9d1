"""The audit log: append-only entries of who did what, where, and from which address."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joliba.db.tables import AuditEntry, Workspace, utcnow
from joliba.domain.paging import PageRequest
from joliba.services.actors import Actor
from joliba.services.paging import paginate

# Keys that may never be written into an entry's details, whatever a caller passes.
_FORBIDDEN_KEYS = {"password", "token", "secret", "secret_access_key", "secrets"}


def record(
    session: Session,
    action: str,
    *,
    actor: Actor | None = None,
    workspace: Workspace | None = None,
    target: str = "",
    details: dict[str, Any] | None = None,
    email: str = "",
    client_ip: str = "",
    at: datetime | None = None,
) -> AuditEntry:
    clean = {k: v for k, v in (details or {}).items() if k.lower() not in _FORBIDDEN_KEYS}
    if actor is not None and actor.run_id is not None:
        # Done by a pipeline run with its token: the run, not only the person, is named.
        clean["run_id"] = str(actor.run_id)
    entry = AuditEntry(
        at=at or utcnow(),
        action=action,
        actor_id=actor.user.id if actor else None,
        actor_email=actor.user.email if actor else email,
        token_id=actor.token_id if actor else None,
        workspace_id=workspace.id if workspace else None,
        target=target[:1024],
        client_ip=(actor.client_ip if actor else client_ip)[:64],
        details=clean,
    )
    session.add(entry)
    session.flush()
    return entry


def list_for_workspace(
    session: Session,
    workspace: Workspace,
    page: PageRequest,
    *,
    action: str | None = None,
) -> tuple[Sequence[AuditEntry], int]:
    query = select(AuditEntry).where(AuditEntry.workspace_id == workspace.id)
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    return paginate(session, query, page, AuditEntry.at.desc(), AuditEntry.id)


def count_since(
    session: Session,
    action: str,
    since: datetime,
    *,
    target: str | None = None,
    client_ip: str | None = None,
) -> tuple[int, datetime | None]:
    """How many ``action`` entries since ``since`` (for a target or address), and the newest."""
    query = select(func.count(), func.max(AuditEntry.at)).where(
        AuditEntry.action == action, AuditEntry.at > since
    )
    if target is not None:
        query = query.where(AuditEntry.target == target)
    if client_ip is not None:
        query = query.where(AuditEntry.client_ip == client_ip)
    count, newest = session.execute(query).one()
    return int(count), _aware(newest)


def last_at(
    session: Session, action: str, *, target: str, client_ip: str | None = None
) -> datetime | None:
    """When ``action`` last happened to ``target`` (from ``client_ip``, when given)."""
    query = select(func.max(AuditEntry.at)).where(
        AuditEntry.action == action, AuditEntry.target == target
    )
    if client_ip is not None:
        query = query.where(AuditEntry.client_ip == client_ip)
    return _aware(session.scalar(query))


def _aware(value: datetime | None) -> datetime | None:
    # Aggregates keep the column type on PostgreSQL; SQLite may hand back a naive value.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
