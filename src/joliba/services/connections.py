"""Workspace connections: typed fields, secrets sealed at rest and never handed back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Connection, utcnow
from joliba.domain.connections import (
    MASK,
    ConnectionType,
    parse_type,
    secret_names,
    validate_fields,
)
from joliba.domain.errors import Conflict, Invalid, NotFound
from joliba.domain.paging import PageRequest
from joliba.domain.slugs import check_name, check_slug, slugify
from joliba.services import audit
from joliba.services.crypto import SecretBox
from joliba.services.paging import paginate
from joliba.services.workspaces import Access


@dataclass(frozen=True)
class ConnectionView:
    """What callers may see: plain values, and the mask for secrets that hold a value."""

    connection: Connection
    fields: dict[str, str]
    secret_fields: list[str]


def view(connection: Connection) -> ConnectionView:
    kind = ConnectionType(connection.type)
    shown = {str(k): str(v) for k, v in connection.fields.items()}
    for name in connection.secret_names:
        shown[name] = MASK
    names = sorted(secret_names(kind, list(connection.secret_names)))
    return ConnectionView(connection=connection, fields=shown, secret_fields=names)


def list_for(
    session: Session, access: Access, page: PageRequest
) -> tuple[Sequence[Connection], int]:
    query = select(Connection).where(Connection.workspace_id == access.workspace.id)
    return paginate(session, query, page, Connection.slug)


def get(session: Session, access: Access, slug: str) -> Connection:
    connection = session.scalar(
        select(Connection).where(
            Connection.workspace_id == access.workspace.id, Connection.slug == slug
        )
    )
    if connection is None:
        raise NotFound(f"connection '{slug}' not found")
    return connection


def _clean_input(fields: dict[str, Any] | None) -> dict[str, Any]:
    if fields is None:
        return {}
    return {str(k): v for k, v in fields.items()}


def create(
    session: Session,
    access: Access,
    box: SecretBox,
    *,
    type: str,
    name: str,
    slug: str | None = None,
    description: str = "",
    fields: dict[str, Any] | None = None,
    secret_fields: list[str] | None = None,
) -> Connection:
    kind = parse_type(type)
    name = check_name(name)
    slug = check_slug(slug or slugify(name))
    if session.scalar(
        select(Connection.id).where(
            Connection.workspace_id == access.workspace.id, Connection.slug == slug
        )
    ):
        raise Conflict(f"slug: a connection '{slug}' already exists", details={"field": "slug"})
    values = _clean_input(fields)
    if any(v == MASK for v in values.values()):
        raise Invalid("fields: give real values when creating a connection")
    secrets_declared = secret_names(kind, secret_fields)
    plain, secret = validate_fields(kind, values, secret_keys=secrets_declared)
    connection = Connection(
        workspace_id=access.workspace.id,
        slug=slug,
        name=name,
        type=kind.value,
        description=description.strip(),
        fields=plain,
        secrets_encrypted=box.seal(secret),
        secret_names=sorted(secret),
        created_by_id=access.actor.user.id,
    )
    session.add(connection)
    session.flush()
    audit.record(
        session,
        "connection.create",
        actor=access.actor,
        workspace=access.workspace,
        target=slug,
        details={"type": kind.value, "fields": sorted([*plain, *secret])},
    )
    return connection


def update(
    session: Session,
    access: Access,
    box: SecretBox,
    slug: str,
    *,
    name: str | None = None,
    description: str | None = None,
    fields: dict[str, Any] | None = None,
    secret_fields: list[str] | None = None,
) -> Connection:
    """Merge ``fields`` into the stored values: a masked or absent secret keeps its value,
    an empty string or null clears a field."""
    connection = get(session, access, slug)
    kind = ConnectionType(connection.type)
    changed: list[str] = []
    if name is not None and name.strip() != connection.name:
        connection.name = check_name(name)
        changed.append("name")
    if description is not None and description.strip() != connection.description:
        connection.description = description.strip()
        changed.append("description")
    if fields is not None or secret_fields is not None:
        stored_secret = box.open(connection.secrets_encrypted)
        merged: dict[str, Any] = {**connection.fields, **stored_secret}
        for key, value in _clean_input(fields).items():
            if value == MASK:
                continue
            if value in (None, "") and kind is ConnectionType.CUSTOM:
                merged.pop(key, None)
            else:
                merged[key] = value
            changed.append(key)
        declared = (
            set(secret_fields)
            if secret_fields is not None and kind is ConnectionType.CUSTOM
            else secret_names(kind, list(connection.secret_names))
        )
        plain, secret = validate_fields(kind, merged, secret_keys=declared)
        connection.fields = plain
        connection.secrets_encrypted = box.seal(secret)
        connection.secret_names = sorted(secret)
    if changed:
        connection.updated_at = utcnow()
        session.flush()
        audit.record(
            session,
            "connection.update",
            actor=access.actor,
            workspace=access.workspace,
            target=slug,
            details={"changed": sorted(set(changed))},
        )
    return connection


def delete(session: Session, access: Access, slug: str) -> None:
    connection = get(session, access, slug)
    session.delete(connection)
    session.flush()
    audit.record(
        session,
        "connection.delete",
        actor=access.actor,
        workspace=access.workspace,
        target=slug,
        details={"type": connection.type},
    )


def reveal(connection: Connection, box: SecretBox) -> dict[str, str]:
    """Every value including secrets, for server-side use only (tests, pipeline runs)."""
    return {
        **{str(k): str(v) for k, v in connection.fields.items()},
        **box.open(connection.secrets_encrypted),
    }


@dataclass(frozen=True)
class TestRequest:
    """What a connection test needs, read before the (slow) remote call."""

    kind: ConnectionType
    values: dict[str, str]
    secret_names: set[str]

    def args(self) -> tuple[ConnectionType, dict[str, str], set[str]]:
        return self.kind, self.values, self.secret_names


def prepare_test(session: Session, access: Access, box: SecretBox, slug: str) -> TestRequest:
    connection = get(session, access, slug)
    return TestRequest(
        kind=ConnectionType(connection.type),
        values=reveal(connection, box),
        secret_names=set(connection.secret_names),
    )


def record_test(session: Session, access: Access, slug: str, *, ok: bool) -> None:
    audit.record(
        session,
        "connection.test",
        actor=access.actor,
        workspace=access.workspace,
        target=slug,
        details={"ok": ok},
    )
