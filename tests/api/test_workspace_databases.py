"""Every workspace gets its own PostgreSQL database, closed to every other workspace.

The databases are on a cluster that asks every role for its password (tests/fixtures/
pg_cluster.py), as docs/bi.md says a production server must: with ``trust``, any role could
sign in as any other.
"""

from __future__ import annotations

import socket
from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from joliba.db.engine import Database
from joliba.db.tables import AuditEntry
from joliba.db.workspace_database_tables import WorkspaceDatabase
from joliba.domain.errors import Unavailable
from joliba.domain.permissions import Role
from joliba.services import users, workspaces
from joliba.services.actors import Actor
from joliba.services.workspace_databases import WorkspaceDatabases
from joliba.storage.workspace_postgres import WorkspaceServer
from tests.conftest import CI, PG_ADMIN_URL, Person, World, metadata_database, need_service, unique
from tests.fixtures.pg_cluster import Cluster


def _details(person: Person, ws: str, *, reveal: bool = False) -> dict[str, Any]:
    r = person.api.get(f"/workspaces/{ws}/database", params={"reveal": "true"} if reveal else {})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def _connect(cluster: Cluster, database: str, user: str, password: str) -> psycopg.Connection[Any]:
    return psycopg.connect(cluster.url(database, user=user, password=password), connect_timeout=5)


def test_each_workspace_database_opens_only_with_its_own_roles(
    db_world: World, pg_cluster: Cluster
) -> None:
    admin = db_world.person()
    first, second = db_world.workspace(admin), db_world.workspace(admin)
    a, b = _details(admin, first, reveal=True), _details(admin, second, reveal=True)
    assert a["engine"] == "postgresql" and a["status"] == "ready", a
    assert (a["host"], a["port"]) == ("127.0.0.1", pg_cluster.port)
    assert a["database"] == "ws_" + first.replace("-", "_")
    assert a["read_only_user"] == a["user"] + "_ro"
    assert a["database"] != b["database"]

    with _connect(pg_cluster, a["database"], a["user"], a["password"]) as owner:
        owner.execute("CREATE TABLE cases (district text, n integer)")
        owner.execute("INSERT INTO cases VALUES ('Agadez', 3)")
        owner.commit()
    with _connect(pg_cluster, a["database"], a["read_only_user"], a["read_only_password"]) as ro:
        assert ro.execute("SELECT district, n FROM cases").fetchall() == [("Agadez", 3)]
        for statement in (
            "INSERT INTO cases VALUES ('Zinder', 1)",
            "CREATE TABLE mine (x int)",
            "DELETE FROM cases",
        ):
            with pytest.raises(psycopg.Error):
                ro.execute(statement)
            ro.rollback()
        # Not only the read-only default: the role has no right to write even without it.
        ro.execute("SET default_transaction_read_only = off")
        ro.commit()  # the next transaction starts read-write
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            ro.execute("INSERT INTO cases VALUES ('Zinder', 1)")

    # A's roles cannot open B's database, nor the server's other databases' data.
    for user, password in (
        (a["user"], a["password"]),
        (a["read_only_user"], a["read_only_password"]),
    ):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            _connect(pg_cluster, b["database"], user, password)
    # B's roles do not sign in with A's passwords.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(pg_cluster, b["database"], b["user"], a["password"])


# On SQLite the metadata database is a file, not a database a role could open.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_the_metadata_database_is_closed_to_workspace_roles(
    db_world: World, pg_cluster: Cluster, backend: str
) -> None:
    admin = db_world.person()
    ws = db_world.workspace(admin)
    a = _details(admin, ws, reveal=True)
    for user, password in (
        (a["user"], a["password"]),
        (a["read_only_user"], a["read_only_password"]),
    ):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            _connect(pg_cluster, metadata_database(db_world), user, password)


def test_passwords_are_shown_to_editors_only_and_each_reveal_is_audited(db_world: World) -> None:
    admin, editor, viewer = db_world.person(), db_world.person(), db_world.person()
    ws = db_world.workspace(admin)
    db_world.add_member(ws, editor, Role.EDITOR)
    db_world.add_member(ws, viewer, Role.VIEWER)
    plain = _details(viewer, ws)
    assert plain["password"] is None and plain["read_only_password"] is None
    assert plain["user"] and plain["database"]
    r = viewer.api.get(f"/workspaces/{ws}/database", params={"reveal": "true"})
    assert r.status_code == 403, r.text
    shown = _details(editor, ws, reveal=True)
    assert shown["password"] and shown["read_only_password"]
    assert shown["password"] not in str(_details(admin, ws))
    with db_world.platform.db.session() as session:
        row = session.scalar(
            select(WorkspaceDatabase).where(WorkspaceDatabase.database == shown["database"])
        )
        assert row is not None
        # Sealed at rest: the stored bytes do not hold the password.
        assert shown["password"].encode() not in row.passwords_encrypted
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.workspace_id == row.workspace_id)
        ).all()
    assert actions.count("database.reveal") == 1


def test_rotating_gives_new_passwords_and_the_old_ones_stop(
    db_world: World, pg_cluster: Cluster
) -> None:
    admin, editor = db_world.person(), db_world.person()
    ws = db_world.workspace(admin)
    db_world.add_member(ws, editor, Role.EDITOR)
    before = _details(admin, ws, reveal=True)
    assert editor.api.post(f"/workspaces/{ws}/database/rotate").status_code == 403
    r = admin.api.post(f"/workspaces/{ws}/database/rotate")
    assert r.status_code == 200, r.text
    after = r.json()
    assert after["password"] != before["password"]
    assert after["rotated_at"] is not None
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        _connect(pg_cluster, before["database"], before["user"], before["password"])
    with _connect(
        pg_cluster, after["database"], after["read_only_user"], after["read_only_password"]
    ) as ro:
        assert ro.execute("SELECT 1").fetchone() == (1,)
    assert _details(admin, ws, reveal=True)["password"] == after["password"]


def test_an_archived_workspaces_database_is_kept_but_closed(
    db_world: World, pg_cluster: Cluster
) -> None:
    admin = db_world.person()
    ws = db_world.workspace(admin)
    a = _details(admin, ws, reveal=True)
    with _connect(pg_cluster, a["database"], a["user"], a["password"]) as owner:
        owner.execute("CREATE TABLE kept (x int)")
        owner.commit()
    assert admin.api.patch(f"/workspaces/{ws}", json={"archived": True}).status_code == 200
    assert _details(admin, ws)["status"] == "archived"
    with pytest.raises(psycopg.OperationalError, match="not permitted to log in"):
        _connect(pg_cluster, a["database"], a["user"], a["password"])
    assert admin.api.patch(f"/workspaces/{ws}", json={"archived": False}).status_code == 200
    with _connect(pg_cluster, a["database"], a["user"], a["password"]) as owner:
        assert owner.execute("SELECT count(*) FROM kept").fetchone() == (0,)


def test_postgis_is_in_every_database_when_the_server_has_it(
    db_world: World, pg_cluster: Cluster
) -> None:
    with psycopg.connect(pg_cluster.url()) as con:
        available = con.execute(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'"
        ).fetchone()
    if available is None:
        message = "PostGIS is not installed (Debian: postgresql-15-postgis-3)"
        if CI:
            pytest.fail(message + " (CI=true: it must be)")
        pytest.skip(message)
    admin = db_world.person()
    ws = db_world.workspace(admin)
    a = _details(admin, ws, reveal=True)
    assert a["postgis"] is True
    with _connect(pg_cluster, a["database"], a["user"], a["password"]) as owner:
        owner.execute("CREATE TABLE districts (name text, geom geometry(Polygon, 4326))")
        square = "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 1,0 0))', 4326)"
        owner.execute(f"INSERT INTO districts VALUES ('A', {square})")
        area = owner.execute("SELECT ST_Area(geom) FROM districts").fetchone()
    assert area == (1.0,)


def test_a_database_the_server_could_not_make_is_made_later(
    db_world: World, pg_cluster: Cluster
) -> None:
    """The server was down when the workspace was made: the details say so, and the next
    attempt (``ensure_all``, as ``joliba db workspaces`` and a server start do) makes it."""
    platform = db_world.platform
    down_url = pg_cluster.url().replace(f":{pg_cluster.port}/", f":{_closed_port()}/")
    down = WorkspaceDatabases(
        platform.db, platform.box, down_url, platform.settings.workspace_databases_dir
    )
    quiet = Database(platform.db.url)  # no listeners: nothing makes the database on commit
    admin = db_world.person()
    with quiet.transaction() as session:
        owner = users.get_by_email(session, admin.email)
        created = workspaces.create(session, None, name="Late", slug=unique("late-"), admin=owner)
        slug, workspace_id = created.slug, created.id
    quiet.dispose()
    with pytest.raises(Unavailable, match=r"workspace database server 127\.0\.0\.1:\d+"):
        down.ensure(workspace_id)
    with platform.db.session() as session:
        user = users.get_by_email(session, admin.email)
        assert user is not None
        assert session.get(WorkspaceDatabase, workspace_id) is None  # nothing half-made
    with pytest.raises(Unavailable, match="cannot be made now"):
        down.details(Actor(user=user), slug)
    assert platform.databases.ensure_all() == []
    ready = _details(admin, slug, reveal=True)
    assert ready["status"] == "ready" and ready["error"] == ""
    with _connect(pg_cluster, ready["database"], ready["user"], ready["password"]) as con:
        assert con.execute("SELECT current_database()").fetchone() == (ready["database"],)


def test_a_server_that_trusts_every_role_is_reported(pg_cluster: Cluster) -> None:
    need_service("PostgreSQL", "127.0.0.1", 5432)
    assert WorkspaceServer(pg_cluster.url()).passwordless_rules() == []
    rules = WorkspaceServer(PG_ADMIN_URL).passwordless_rules()  # CI's server trusts everyone
    assert rules and all("trust" in rule and "line" in rule for rule in rules), rules


def test_without_a_server_the_workspace_database_is_a_sqlite_file(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    assert _details(admin, ws) == {
        **_details(admin, ws),
        "engine": "sqlite",
        "status": "ready",
        "password": None,
        "host": None,
    }
    r = admin.api.post(f"/workspaces/{ws}/database/rotate")
    assert r.status_code == 409 and "JOLIBA_WORKSPACE_DATABASE_URL" in r.text


def _both_roles(details: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (details["user"], details["password"]),
        (details["read_only_user"], details["read_only_password"]),
    ]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
