"""The PostgreSQL server that holds the workspaces' databases (``JOLIBA_WORKSPACE_DATABASE_URL``).

``converge`` makes the server hold one workspace's database and roles as Joliba's record of
them says, and can be called again at any point: after a failure halfway, after a password
rotation, after the workspace was archived. What it makes:

- the owner role (writes; pipelines use it) and the reader role (``default_transaction_read_only``;
  BI tools and viewers' SQL use it), both without any server-wide right, with statement and
  idle-in-transaction timeouts;
- the database, owned by the owner role, with ``CONNECT`` revoked from ``PUBLIC``, so no
  other workspace's role (nor any other role) can open it; its ``public`` schema belongs to
  the owner and the reader may read every table the owner makes;
- PostGIS in it, when the server has the extension.

Passwords reach the server as SCRAM verifiers computed here (libpq's ``PQencryptPasswordConn``),
never in clear, so they cannot land in the server's statement log. This module does server
work only; the services decide when, with what names and passwords.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from joliba.domain.workspace_databases import DatabaseNames

log = logging.getLogger("joliba.workspace_databases")

Admin = psycopg.Connection[tuple[Any, ...]]

#: A pipeline's statement may take long (a national extraction written at once); a reader's
#: query is someone waiting in front of a dashboard.
OWNER_STATEMENT_TIMEOUT = "2h"
READER_STATEMENT_TIMEOUT = "5min"
IDLE_IN_TRANSACTION_TIMEOUT = "10min"
CONNECTION_LIMIT = 30


class WorkspaceServerError(RuntimeError):
    """The workspace-database server refused or could not be reached; the message says why."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int


class WorkspaceServer:
    """An admin connection to the server; its role needs CREATEDB and CREATEROLE (or
    superuser, which PostGIS needs)."""

    def __init__(self, admin_url: str) -> None:
        url = make_url(admin_url.replace("postgres://", "postgresql://", 1))
        if url.get_backend_name() != "postgresql":
            raise WorkspaceServerError(
                f"workspace databases need a PostgreSQL server, not {url.get_backend_name()!r}"
            )
        self._url = url.set(drivername="postgresql")
        self.endpoint = Endpoint(host=url.host or "localhost", port=url.port or 5432)

    def url_for(self, user: str, password: str, database: str) -> str:
        """How a role reaches its database: a ``postgresql://`` URL."""
        host = self.endpoint.host
        if ":" in host:  # an IPv6 address
            host = f"[{host}]"
        return (
            f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@"
            f"{host}:{self.endpoint.port}/{quote(database, safe='')}"
        )

    @contextmanager
    def _admin(self, database: str | None = None) -> Iterator[Admin]:
        url = self._url if database is None else self._url.set(database=database)
        conninfo = url.render_as_string(hide_password=False)
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as con:
                yield con
        except psycopg.OperationalError as exc:
            where = f"{self.endpoint.host}:{self.endpoint.port}"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise WorkspaceServerError(f"workspace database server {where}: {first}") from exc

    def converge(
        self, names: DatabaseNames, *, owner_password: str, reader_password: str, active: bool
    ) -> bool:
        """Make the database and roles as described; return whether PostGIS is in it.

        ``active=False`` (an archived workspace) keeps everything but lets neither role sign
        in, and ends their open sessions.
        """
        try:
            with self._admin() as con:
                self._role(con, names.owner, owner_password, active, OWNER_STATEMENT_TIMEOUT)
                self._role(con, names.reader, reader_password, active, READER_STATEMENT_TIMEOUT)
                con.execute(
                    sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(
                        sql.Identifier(names.reader)
                    )
                )
                self._database(con, names)
                if not active:
                    con.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE usename = ANY(%s)",
                        ([names.owner, names.reader],),
                    )
            with self._admin(names.database) as con:
                return self._schema(con, names)
        except psycopg.Error as exc:
            raise WorkspaceServerError(
                f"making workspace database {names.database}: {_first_line(exc)}"
            ) from exc

    def taken(self, names: DatabaseNames) -> bool:
        """Whether any of these names is already used on the server."""
        with self._admin() as con:
            row = con.execute(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = %s) "
                "OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ANY(%s))",
                (names.database, [names.owner, names.reader]),
            ).fetchone()
        return bool(row and row[0])

    def close_off(self, database: str) -> None:
        """Revoke ``CONNECT`` from ``PUBLIC`` on a database that is not a workspace's (the
        metadata database, when it is on this server), so workspace roles cannot open it."""
        with self._admin() as con:
            con.execute(
                sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
                    sql.Identifier(database)
                )
            )

    def passwordless_rules(self) -> list[str]:
        """The ``pg_hba.conf`` rules that would let a workspace role in without a password
        (``trust`` for all users), as "line N: …"; empty when there are none or when the
        admin role may not read the rules."""
        try:
            with self._admin() as con:
                rows = con.execute(
                    "SELECT line_number, type, database, user_name, address, auth_method "
                    "FROM pg_hba_file_rules WHERE auth_method = 'trust' AND error IS NULL"
                ).fetchall()
        except (psycopg.Error, WorkspaceServerError):
            return []
        found = []
        for line, kind, databases, users, address, method in rows:
            if users and "all" in users:
                where = f" {address}" if address else ""
                found.append(f"line {line}: {kind} {','.join(databases or [])} all{where} {method}")
        return found

    def _role(
        self,
        con: Admin,
        role: str,
        password: str,
        active: bool,
        statement_timeout: str,
    ) -> None:
        verifier = con.pgconn.encrypt_password(
            password.encode(), role.encode(), b"scram-sha-256"
        ).decode()
        login = sql.SQL("LOGIN" if active else "NOLOGIN")
        exists = con.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
        con.execute(
            sql.SQL(
                "{} {} WITH {} PASSWORD {} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
                "NOBYPASSRLS NOINHERIT CONNECTION LIMIT {}"
            ).format(
                verb,
                sql.Identifier(role),
                login,
                sql.Literal(verifier),
                sql.Literal(CONNECTION_LIMIT),
            )
        )
        for setting, value in (
            ("statement_timeout", statement_timeout),
            ("idle_in_transaction_session_timeout", IDLE_IN_TRANSACTION_TIMEOUT),
        ):
            con.execute(
                sql.SQL("ALTER ROLE {} SET {} = {}").format(
                    sql.Identifier(role), sql.Identifier(setting), sql.Literal(value)
                )
            )

    def _database(self, con: Admin, names: DatabaseNames) -> None:
        owner, database = sql.Identifier(names.owner), sql.Identifier(names.database)
        superuser = con.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        if not (superuser and superuser[0]):
            # Without superuser, giving a database to a role needs membership in it.
            con.execute(sql.SQL("GRANT {} TO current_user").format(owner))
        found = con.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (names.database,)
        ).fetchone()
        if not found:
            con.execute(
                sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(database, owner)
            )
        con.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(database, owner))
        con.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
        con.execute(
            sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(
                database, sql.Identifier(names.reader)
            )
        )

    def _schema(self, con: Admin, names: DatabaseNames) -> bool:
        owner, reader = sql.Identifier(names.owner), sql.Identifier(names.reader)
        postgis = self._postgis(con)
        for statement in (
            "REVOKE ALL ON SCHEMA public FROM PUBLIC",
            "ALTER SCHEMA public OWNER TO {owner}",
            "GRANT USAGE ON SCHEMA public TO {reader}",
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader}",
            "ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA public "
            "GRANT SELECT ON TABLES TO {reader}",
        ):
            con.execute(sql.SQL(statement).format(owner=owner, reader=reader))
        if postgis:  # the extension's own table, made by the admin: the owner may fill it
            con.execute(sql.SQL("GRANT ALL ON TABLE spatial_ref_sys TO {}").format(owner))
        return postgis

    def _postgis(self, con: Admin) -> bool:
        row = con.execute(
            "SELECT installed_version IS NOT NULL, true FROM pg_available_extensions "
            "WHERE name = 'postgis'"
        ).fetchone()
        if row is None:
            return False  # the server does not have it: geometry is stored as WKB
        if row[0]:
            return True
        try:
            con.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        except psycopg.errors.InsufficientPrivilege:
            log.warning(
                "PostGIS is on the workspace database server but its admin role may not "
                "create it (a superuser can): geometry columns are stored as WKB"
            )
            return False
        return True


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
