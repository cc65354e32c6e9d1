"""Workspace connections: typed fields, secrets sealed at rest and never handed back.

A secret goes only where the admin who typed it meant it to go: an edit that changes where
a connection points (:func:`destination_fields`) clears its stored secrets, unless the same
edit gives new ones.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Connection, utcnow
from joliba.domain.connections import (
    FIELDS,
    MASK,
    ConnectionType,
    parse_type,
    secret_names,
    validate_fields,
)
from joliba.domain.errors import Conflict, Invalid, NotFound
from joliba.domain.paging import PageRequest
from joliba.domain.permissions import Action
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
    access.demand(Action.CONNECTION_WRITE)
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


#: Typed fields that say where a connection's secrets are sent, besides its URL fields.
_DESTINATION_NAMES = frozenset({"host", "port"})
#: Custom keys that name a place: base_url, api_host, endpoint, server, dsn, …
_PLACE_KEY = re.compile(r"(url|uri|host|endpoint|server|address|domain|port|dsn)", re.I)
_PLACE_VALUE = re.compile(
    r"^[a-z][a-z0-9+.-]*://|^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,63}(:\d+)?$", re.I
)


@dataclass(frozen=True)
class Edited:
    """An updated connection, and the secrets the edit cleared because it was repointed."""

    connection: Connection
    cleared: list[str]
    moved: list[str]

    @property
    def notice(self) -> str:
        """What to tell the editor, e.g. 'the password was cleared because the server URL
        changed; enter it again' (empty when nothing was cleared)."""
        if not self.cleared:
            return ""
        kind = ConnectionType(self.connection.type)
        secrets = _join([_label(kind, name) for name in self.cleared])
        places = _join([_label(kind, name) for name in self.moved])
        several = len(self.cleared) > 1
        return (
            f"the {secrets} {'were' if several else 'was'} cleared because the {places} "
            f"changed; enter {'them' if several else 'it'} again"
        )


def destination_fields(kind: ConnectionType, values: dict[str, Any]) -> set[str]:
    """The fields that decide where the secrets are sent: for typed connections the URL
    fields and ``host``/``port`` of their definitions; for custom ones the keys that name a
    place (``base_url``, ``api_host``, …) or whose value looks like a URL or a host name."""
    if kind is not ConnectionType.CUSTOM:
        return {s.name for s in FIELDS[kind] if s.kind == "url" or s.name in _DESTINATION_NAMES}
    return {key for key, value in values.items() if _names_a_place(key, value)}


def _names_a_place(key: str, value: Any) -> bool:
    if _PLACE_KEY.search(key):
        return True
    text = "" if value is None else str(value).strip()
    if not text:
        return False
    try:
        ipaddress.ip_address(text.strip("[]"))
        return True
    except ValueError:
        return bool(_PLACE_VALUE.match(text))


def _moved(kind: ConnectionType, before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The destination fields an edit changed (for custom connections, removing a key
    points nowhere new; for typed ones an emptied field means its default, a change)."""
    places = destination_fields(kind, {**before, **after})
    return sorted(
        key
        for key in places
        if before.get(key, "") != after.get(key, "")
        and (kind is not ConnectionType.CUSTOM or after.get(key, ""))
    )


def _label(kind: ConnectionType, name: str) -> str:
    spec = next((s for s in FIELDS[kind] if s.name == name), None)
    if spec is None:
        return name
    return spec.label[:1].lower() + spec.label[1:]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


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
    """:func:`edit`, for callers that need only the connection."""
    access.demand(Action.CONNECTION_WRITE)
    return edit(
        session,
        access,
        box,
        slug,
        name=name,
        description=description,
        fields=fields,
        secret_fields=secret_fields,
    ).connection


def edit(
    session: Session,
    access: Access,
    box: SecretBox,
    slug: str,
    *,
    name: str | None = None,
    description: str | None = None,
    fields: dict[str, Any] | None = None,
    secret_fields: list[str] | None = None,
) -> Edited:
    """Merge ``fields`` into the stored values: a masked or absent secret keeps its value,
    an empty string or null clears a field.

    When a field that decides where the secrets go changes (the URL, host, port, endpoint),
    every stored secret that this edit does not give anew is cleared: an editor who points
    an admin's connection at a server of their own must not get the admin's password sent
    there by the next test or run.
    """
    access.demand(Action.CONNECTION_WRITE)
    connection = get(session, access, slug)
    kind = ConnectionType(connection.type)
    changed: list[str] = []
    cleared: list[str] = []
    moved: list[str] = []
    if name is not None and name.strip() != connection.name:
        connection.name = check_name(name)
        changed.append("name")
    if description is not None and description.strip() != connection.description:
        connection.description = description.strip()
        changed.append("description")
    if fields is not None or secret_fields is not None:
        stored_secret = box.open(connection.secrets_encrypted)
        before = {str(k): str(v) for k, v in connection.fields.items()}
        merged: dict[str, Any] = {**connection.fields, **stored_secret}
        given: set[str] = set()
        for key, value in _clean_input(fields).items():
            if value == MASK:
                continue
            if value in (None, "") and kind is ConnectionType.CUSTOM:
                merged.pop(key, None)
            else:
                merged[key] = value
                given.add(key)
            changed.append(key)
        declared = (
            set(secret_fields)
            if secret_fields is not None and kind is ConnectionType.CUSTOM
            else secret_names(kind, list(connection.secret_names))
        )
        # Checked as merged (a repointed connection keeps a valid shape), then the secrets
        # not given anew are dropped if it now points elsewhere.
        plain, secret = validate_fields(kind, merged, secret_keys=declared)
        moved = _moved(kind, before, plain)
        if moved:
            cleared = sorted(k for k in secret if k in stored_secret and k not in given)
            for key in cleared:
                del secret[key]
            changed += cleared
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
            details={"changed": sorted(set(changed)), **({"cleared": cleared} if cleared else {})},
        )
    return Edited(connection=connection, cleared=cleared, moved=moved)


def delete(session: Session, access: Access, slug: str) -> None:
    access.demand(Action.CONNECTION_DELETE)
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
