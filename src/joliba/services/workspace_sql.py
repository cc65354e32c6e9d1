"""People reading (and, for editors, changing) their workspace's database: its tables, a page
of rows, SQL, exports, and the queries a workspace keeps.

Viewers' SQL runs read-only (the workspace's read-only role, or its SQLite file opened
read-only), editors' and admins' as the owner: the database, not a reading of the SQL,
decides what may be written. Every SQL run and export is recorded in the workspace's audit
log with its text, its role and what it did (or why it failed). The database work is done
with no metadata transaction open.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.workspace_database_tables import SavedQuery
from joliba.domain.errors import Invalid, NotFound
from joliba.domain.permissions import Action
from joliba.domain.slugs import check_name
from joliba.services import audit, units
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.services.workspaces import Access
from joliba.storage import workspace_sql
from joliba.storage.table_reads import Filter, Sort
from joliba.storage.tables import Interrupt, TableError
from joliba.storage.workspace_sql import TableInfo, Target

#: The most SQL text an audit entry keeps.
AUDITED_SQL = 2000
MAX_SQL = 100_000


@dataclass(frozen=True)
class Answer:
    result: dict[str, Any]
    #: "owner" (may write) or "read_only"
    role: str


def _target(platform: Platform, access: Access) -> Target:
    writable = access.allows(Action.DATABASE_WRITE)
    return platform.databases.target(access.workspace.id, writable=writable)


def _invalid(exc: TableError) -> Invalid:
    return Invalid(str(exc), details={"field": str(exc).split(":", 1)[0]})


def tables(platform: Platform, actor: Actor, ws: str) -> list[TableInfo]:
    with units.work(platform.db, actor, ws, Action.DATABASE_READ) as (_session, access):
        target = platform.databases.target(access.workspace.id, writable=False)
    try:
        return workspace_sql.list_tables(target)
    except TableError as exc:
        raise _invalid(exc) from None


def preview(
    platform: Platform,
    actor: Actor,
    ws: str,
    table: str,
    *,
    offset: int = 0,
    limit: int = 25,
    sort: Sequence[Sort] = (),
    filters: Sequence[Filter] = (),
) -> dict[str, Any]:
    with units.work(platform.db, actor, ws, Action.DATABASE_READ) as (_session, access):
        target = platform.databases.target(access.workspace.id, writable=False)
    try:
        return workspace_sql.preview(
            target, table, offset=offset, limit=limit, sort=list(sort), filters=list(filters)
        )
    except TableError as exc:
        if str(exc).startswith("table:"):
            raise NotFound(str(exc).split(": ", 1)[1]) from None
        raise _invalid(exc) from None


def query(
    platform: Platform,
    actor: Actor,
    ws: str,
    sql: str,
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    interrupt: Interrupt | None = None,
) -> Answer:
    """Run one statement within ``query_timeout_seconds``, ``query_max_rows`` and
    ``query_max_bytes`` (or the lower ``max_rows``, ``max_bytes``); audited."""
    if len(sql) > MAX_SQL:
        raise Invalid(f"sql: at most {MAX_SQL} characters", details={"field": "sql"})
    settings = platform.settings
    with units.work(platform.db, actor, ws, Action.DATABASE_READ) as (_session, access):
        target = _target(platform, access)
    role = "owner" if target.writable else "read_only"
    try:
        result = workspace_sql.query(
            target,
            sql,
            max_rows=min(settings.query_max_rows, max_rows or settings.query_max_rows),
            max_bytes=min(settings.query_max_bytes, max_bytes or settings.query_max_bytes),
            timeout=settings.query_timeout_seconds,
            interrupt=interrupt or Interrupt(),
        )
    except TableError as exc:
        _record(platform, access, "database.query", sql, role=role, error=str(exc))
        raise _invalid(exc) from None
    done = {"rows": len(result["rows"])}
    if result.get("changed") is not None:
        done = {"changed": result["changed"]}
    _record(platform, access, "database.query", sql, role=role, **done)
    return Answer(result, role)


@dataclass(frozen=True)
class Export:
    #: A temporary file: the caller removes it once sent.
    path: Path
    rows: int
    media_type: str
    filename: str


def export(platform: Platform, actor: Actor, ws: str, sql: str, fmt: str) -> Export:
    """The rows of one query as CSV or Excel, read-only whoever asks; audited."""
    if fmt not in ("csv", "xlsx"):
        raise Invalid(f"format: '{fmt}' is not one of csv, xlsx", details={"field": "format"})
    with units.work(platform.db, actor, ws, Action.DATABASE_READ) as (_session, access):
        target = platform.databases.target(access.workspace.id, writable=False)
    handle, name = tempfile.mkstemp(prefix="joliba-export-", suffix=f".{fmt}")
    os.close(handle)
    out = Path(name)
    try:
        rows = workspace_sql.export(
            target, sql, fmt, out, timeout=platform.settings.query_timeout_seconds
        )
    except TableError as exc:
        out.unlink(missing_ok=True)
        _record(platform, access, "database.export", sql, role="read_only", error=str(exc))
        raise _invalid(exc) from None
    _record(platform, access, "database.export", sql, role="read_only", rows=rows, format=fmt)
    media = {
        "csv": "text/csv; charset=utf-8",
        "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    }[fmt]
    return Export(out, rows, media, f"{access.workspace.slug}-query.{fmt}")


def _record(platform: Platform, access: Access, action: str, sql: str, **details: Any) -> None:
    with platform.db.transaction() as session:
        audit.record(
            session,
            action,
            actor=access.actor,
            workspace=access.workspace,
            target=sql.strip().splitlines()[0][:200] if sql.strip() else "",
            details={"sql": sql[:AUDITED_SQL], **details},
        )


# -- saved queries ---------------------------------------------------------------------------


def saved(session: Session, access: Access) -> list[SavedQuery]:
    return list(
        session.scalars(
            select(SavedQuery)
            .where(SavedQuery.workspace_id == access.workspace.id)
            .order_by(SavedQuery.name)
        )
    )


def get_saved(session: Session, access: Access, query_id: uuid.UUID | str) -> SavedQuery:
    try:
        key = query_id if isinstance(query_id, uuid.UUID) else uuid.UUID(str(query_id))
    except ValueError:
        raise NotFound(f"no saved query '{query_id}'") from None
    row = session.get(SavedQuery, key)
    if row is None or row.workspace_id != access.workspace.id:
        raise NotFound(f"no saved query '{query_id}'")
    return row


def save(session: Session, access: Access, *, name: str, sql: str) -> SavedQuery:
    """Keep ``sql`` under ``name`` for the workspace; the same name replaces its SQL."""
    access.demand(Action.DATABASE_WRITE)
    name = check_name(name)
    if not sql.strip():
        raise Invalid("sql: write a query to save", details={"field": "sql"})
    if len(sql) > MAX_SQL:
        raise Invalid(f"sql: at most {MAX_SQL} characters", details={"field": "sql"})
    row = session.scalar(
        select(SavedQuery).where(
            SavedQuery.workspace_id == access.workspace.id, SavedQuery.name == name
        )
    )
    if row is None:
        row = SavedQuery(
            workspace_id=access.workspace.id, name=name, sql=sql, created_by=access.actor.user.email
        )
        session.add(row)
    else:
        row.sql = sql
    session.flush()
    audit.record(
        session,
        "database.query_saved",
        actor=access.actor,
        workspace=access.workspace,
        target=name,
    )
    return row


def delete_saved(session: Session, access: Access, query_id: uuid.UUID | str) -> None:
    access.demand(Action.DATABASE_WRITE)
    row = get_saved(session, access, query_id)
    session.delete(row)
    session.flush()
    audit.record(
        session,
        "database.query_deleted",
        actor=access.actor,
        workspace=access.workspace,
        target=row.name,
    )
