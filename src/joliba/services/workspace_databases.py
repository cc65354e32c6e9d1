"""Workspace databases: one SQLite file per workspace by default; with
``JOLIBA_WORKSPACE_DATABASE_URL``, one PostgreSQL database per workspace with an owner role
(pipelines) and a read-only role (BI tools, viewers' SQL).

The ``workspace_database`` row is written and committed first (names, sealed passwords);
then the server is made to match it (``storage/workspace_postgres.py``). Any step can fail
and be done again: a workspace whose database is not ready yet is finished at the next
server start, by ``joliba db workspaces``, when its details are asked for, or when a run
needs it. Archiving a workspace keeps its database but lets neither role sign in.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from joliba.db.engine import Database
from joliba.db.tables import Workspace
from joliba.db.workspace_database_tables import WorkspaceDatabase
from joliba.domain.errors import Conflict, Unavailable
from joliba.domain.permissions import Action
from joliba.domain.workspace_databases import (
    DatabaseNames,
    names_for,
    new_password,
    random_suffix,
)
from joliba.services import audit, units, workspaces
from joliba.services.actors import Actor
from joliba.services.crypto import SecretBox
from joliba.storage.workspace_postgres import Endpoint, WorkspaceServer, WorkspaceServerError
from joliba.storage.workspace_sql import Target

log = logging.getLogger("joliba.workspace_databases")

#: The file name of a workspace's SQLite database, in its own folder.
SQLITE_FILE = "workspace.sqlite"


@dataclass(frozen=True)
class Details:
    """What ``GET /workspaces/{ws}/database`` answers; passwords only when revealed."""

    engine: str
    status: str  # "ready", "pending" (being made, or to be made again), "archived"
    host: str | None = None
    port: int | None = None
    database: str | None = None
    user: str | None = None
    read_only_user: str | None = None
    password: str | None = None
    read_only_password: str | None = None
    postgis: bool = False
    error: str = ""
    rotated_at: datetime | None = None


class WorkspaceDatabases:
    """The workspaces' databases of one server, built once by ``Platform``."""

    def __init__(
        self, db: Database, box: SecretBox, admin_url: str | None, sqlite_root: Path
    ) -> None:
        self.db = db
        self.box = box
        self.admin_url = admin_url
        #: Where the workspaces' SQLite files are when there is no PostgreSQL server.
        self.sqlite_root = sqlite_root

    @cached_property
    def server(self) -> WorkspaceServer | None:
        return WorkspaceServer(self.admin_url) if self.admin_url else None

    @property
    def endpoint(self) -> Endpoint | None:
        """Where the workspace-database server listens (runs are let through to it)."""
        return self.server.endpoint if self.server else None

    # -- making them ---------------------------------------------------------------------

    def ensure(self, workspace_id: uuid.UUID) -> WorkspaceDatabase | None:
        """Make the workspace's PostgreSQL database match its record (creating both if
        needed); None when workspace databases are SQLite files. Raises Unavailable, naming
        the server's answer, when the server cannot do it now."""
        server = self.server
        if server is None:
            return None
        for attempt in (1, 2):
            try:
                with self.db.transaction() as session:
                    workspace = session.get(Workspace, workspace_id)
                    if workspace is None:
                        return None
                    row = session.get(WorkspaceDatabase, workspace_id) or self._record(
                        session, server, workspace
                    )
                    names = DatabaseNames(row.database, row.owner, row.reader)
                    passwords = self.box.open(row.passwords_encrypted)
                    active = not workspace.archived
                break
            except IntegrityError:  # another server recorded it at the same moment
                if attempt == 2:
                    raise
            except WorkspaceServerError as exc:  # names not checked: nothing is recorded
                log.warning("workspace database not made: %s", exc)
                raise Unavailable(f"the workspace database cannot be made now: {exc}") from exc
        try:
            postgis = server.converge(
                names,
                owner_password=passwords["owner"],
                reader_password=passwords["reader"],
                active=active,
            )
        except WorkspaceServerError as exc:
            self._mark(workspace_id, error=str(exc))
            log.warning("workspace database %s is not ready: %s", names.database, exc)
            raise Unavailable(f"the workspace database is not ready: {exc}") from exc
        return self._mark(workspace_id, postgis=postgis)

    def ensure_quietly(self, workspace_id: uuid.UUID) -> None:
        """``ensure`` after a commit: a failure is logged and recorded, and done again later."""
        with contextlib.suppress(Unavailable):  # logged, and kept in the row's error
            self.ensure(workspace_id)

    def ensure_all(self, progress: Callable[[str, str], None] | None = None) -> list[str]:
        """Make every workspace's database that is not ready; the slugs that failed."""
        if self.server is None:
            return []
        with self.db.transaction(write=False) as session:
            ready = set(
                session.scalars(
                    # A failed change (an archive while the server was down) left an error.
                    select(WorkspaceDatabase.workspace_id).where(
                        WorkspaceDatabase.ready_at.is_not(None), WorkspaceDatabase.error == ""
                    )
                )
            )
            todo = [
                (w.id, w.slug)
                for w in session.scalars(select(Workspace).order_by(Workspace.slug))
                if w.id not in ready
            ]
        failed = []
        for workspace_id, slug in todo:
            try:
                self.ensure(workspace_id)
            except Unavailable as exc:
                failed.append(slug)
                if progress:
                    progress(slug, f"failed: {exc}")
            else:
                if progress:
                    progress(slug, "ready")
        return failed

    def start(self) -> None:
        """At server start: close the metadata database to workspace roles when it is on the
        same server, warn when the server lets roles in without a password, and make the
        databases of workspaces that have none yet."""
        server = self.server
        if server is None:
            return
        metadata = self.db.engine.url
        try:
            if not self.db.is_sqlite and server.endpoint == Endpoint(
                host=metadata.host or "localhost", port=metadata.port or 5432
            ):
                server.close_off(str(metadata.database))
            for rule in server.passwordless_rules():
                log.warning(
                    "the workspace database server %s:%s lets any role sign in without a "
                    "password (pg_hba.conf %s): a pipeline could open another workspace's "
                    "database. Use scram-sha-256 for workspace roles (docs/bi.md).",
                    server.endpoint.host,
                    server.endpoint.port,
                    rule,
                )
        except WorkspaceServerError as exc:
            log.warning("workspace databases: %s", exc)
            return
        failed = self.ensure_all()
        if failed:
            log.warning("workspace databases not ready yet: %s", ", ".join(failed))

    def _record(
        self, session: Session, server: WorkspaceServer, workspace: Workspace
    ) -> WorkspaceDatabase:
        names = names_for(workspace.slug)
        recorded = session.scalar(
            select(WorkspaceDatabase.workspace_id).where(
                WorkspaceDatabase.database == names.database
            )
        )
        if recorded is not None or server.taken(names):
            names = names_for(workspace.slug, suffix=random_suffix())
        row = WorkspaceDatabase(
            workspace_id=workspace.id,
            database=names.database,
            owner=names.owner,
            reader=names.reader,
            passwords_encrypted=self.box.seal({"owner": new_password(), "reader": new_password()}),
        )
        session.add(row)
        session.flush()
        return row

    def _mark(
        self, workspace_id: uuid.UUID, *, error: str = "", postgis: bool | None = None
    ) -> WorkspaceDatabase | None:
        with self.db.transaction() as session:
            row = session.get(WorkspaceDatabase, workspace_id)
            if row is None:
                return None
            row.error = error
            if not error:
                row.ready_at = row.ready_at or datetime.now(UTC)
                row.postgis = bool(postgis)
            return row

    # -- using them ----------------------------------------------------------------------

    @contextmanager
    def _work(
        self, actor: Actor | None, ws: str, action: Action, *, write: bool
    ) -> Iterator[tuple[Session, Workspace, Actor | None]]:
        """A transaction on workspace ``ws`` in which ``actor`` may do ``action``;
        ``actor=None`` is the server's own CLI, which may do anything."""
        if actor is None:
            with self.db.transaction(write=write) as session:
                yield session, workspaces.by_slug(session, ws), None
            return
        with units.work(self.db, actor, ws, action, write=write) as (session, access):
            access.demand(action)
            yield session, access.workspace, access.actor

    def details(self, actor: Actor | None, ws: str, *, reveal: bool = False) -> Details:
        """The connection details; passwords with ``reveal`` (editors and admins, audited)."""
        action = Action.DATABASE_REVEAL if reveal else Action.DATABASE_READ
        with self._work(actor, ws, action, write=False) as (session, workspace, _):
            workspace_id = workspace.id
            if self.server is None:
                return Details(engine="sqlite", status="ready", database=SQLITE_FILE)
            row = session.get(WorkspaceDatabase, workspace_id)
        failure: Unavailable | None = None
        if row is None or row.ready_at is None or row.error:
            # Not made yet (the server was down): try now, and say so if it still fails.
            try:
                self.ensure(workspace_id)
            except Unavailable as exc:
                failure = exc
        with self._work(actor, ws, action, write=reveal) as (session, workspace, who):
            row = session.get(WorkspaceDatabase, workspace_id)
            if row is None:  # not even recorded: the server could not be asked
                raise failure or Unavailable("the workspace database is not made yet")
            if reveal:
                audit.record(
                    session,
                    "database.reveal",
                    actor=who,
                    email="" if who else "cli",
                    workspace=workspace,
                    target=row.database,
                )
            return self._details(row, workspace, reveal=reveal)

    def rotate(self, actor: Actor | None, ws: str) -> Details:
        """New passwords for both roles; the old ones stop working at once."""
        action = Action.DATABASE_ROTATE
        with self._work(actor, ws, action, write=False) as (_session, workspace, _):
            workspace_id = workspace.id
        server = self.server
        if server is None:
            raise Conflict(
                "workspace databases are SQLite files here: there are no passwords to "
                "rotate (set JOLIBA_WORKSPACE_DATABASE_URL for PostgreSQL)"
            )
        self.ensure(workspace_id)
        fresh = {"owner": new_password(), "reader": new_password()}
        with self._work(actor, ws, action, write=True) as (session, workspace, who):
            row = session.get(WorkspaceDatabase, workspace_id)
            if row is None:
                raise Unavailable("the workspace database is not made yet")
            names = DatabaseNames(row.database, row.owner, row.reader)
            # The server first, then the record. Should the commit fail, the next ``ensure``
            # sets the recorded passwords again.
            try:
                server.converge(
                    names,
                    owner_password=fresh["owner"],
                    reader_password=fresh["reader"],
                    active=not workspace.archived,
                )
            except WorkspaceServerError as exc:
                raise Unavailable(f"the passwords could not be changed: {exc}") from exc
            row.passwords_encrypted = self.box.seal(fresh)
            row.rotated_at = datetime.now(UTC)
            audit.record(
                session,
                "database.rotate",
                actor=who,
                email="" if who else "cli",
                workspace=workspace,
                target=row.database,
            )
            return self._details(row, workspace, reveal=True)

    def run_url(self, workspace_id: uuid.UUID) -> str | None:
        """The owner's URL that a run of the workspace gets, made now if need be; None when
        workspace databases are SQLite files."""
        if self.server is None:
            return None
        return self.target(workspace_id, writable=True).url

    def target(self, workspace_id: uuid.UUID, *, writable: bool) -> Target:
        """Where people's SQL reads the workspace's database: as the owner when ``writable``,
        else read-only (the read-only role; the SQLite file opened read-only)."""
        server = self.server
        if server is None:
            path = self.sqlite_root / str(workspace_id) / SQLITE_FILE
            if writable:
                path.parent.mkdir(parents=True, exist_ok=True)
            return Target(f"sqlite:///{path}", writable=writable)
        with self.db.transaction(write=False) as session:
            row = session.get(WorkspaceDatabase, workspace_id)
            ready = row is not None and row.ready_at is not None and not row.error
        if not ready:
            row = self.ensure(workspace_id)
        assert row is not None
        passwords = self.box.open(row.passwords_encrypted)
        user, password = (
            (row.owner, passwords["owner"]) if writable else (row.reader, passwords["reader"])
        )
        return Target(server.url_for(user, password, row.database), writable=writable)

    def _details(self, row: WorkspaceDatabase, workspace: Workspace, *, reveal: bool) -> Details:
        assert self.server is not None
        status = "pending" if row.ready_at is None or row.error else "ready"
        if status == "ready" and workspace.archived:
            status = "archived"
        passwords = self.box.open(row.passwords_encrypted) if reveal else {}
        return Details(
            engine="postgresql",
            status=status,
            host=self.server.endpoint.host,
            port=self.server.endpoint.port,
            database=row.database,
            user=row.owner,
            read_only_user=row.reader,
            password=passwords.get("owner"),
            read_only_password=passwords.get("reader"),
            postgis=row.postgis,
            error=row.error,
            rotated_at=row.rotated_at,
        )
