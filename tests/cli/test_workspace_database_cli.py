"""``joliba workspaces database`` and ``joliba db workspaces``, as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from sqlalchemy import select

from joliba.db.engine import Database
from joliba.db.tables import AuditEntry
from joliba.db.workspace_database_tables import WorkspaceDatabase
from joliba.services import users, workspaces
from tests.conftest import World, unique
from tests.fixtures.cli import on_server
from tests.fixtures.pg_cluster import Cluster


def test_the_operator_sees_reveals_and_rotates_a_workspace_database(
    db_world: World, pg_cluster: Cluster, tmp_path: Path
) -> None:
    cli = on_server(db_world.platform, tmp_path)
    ws = db_world.workspace(db_world.person())
    shown = cli("workspaces", "database", ws).ok().stdout
    assert f"ws_{ws.replace('-', '_')}" in shown and "127.0.0.1" in shown
    assert "password" not in shown
    revealed = json.loads(cli("workspaces", "database", ws, "--reveal", "--json").ok().stdout)
    assert revealed["engine"] == "postgresql" and revealed["password"]
    rotated = json.loads(cli("workspaces", "database", ws, "--rotate", "--json").ok().stdout)
    assert rotated["password"] != revealed["password"]
    url = pg_cluster.url(rotated["database"], user=rotated["user"])
    with psycopg.connect(url.replace(pg_cluster.password, rotated["password"])) as con:
        assert con.execute("SELECT current_user").fetchone() == (rotated["user"],)
    with db_world.platform.db.session() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.target == rotated["database"])
        ).all()
    assert sorted(actions) == ["database.reveal", "database.rotate"]
    missing = cli("workspaces", "database", "no-such-workspace")
    assert missing.exit_code == 1 and "no-such-workspace" in missing.stderr


def test_db_workspaces_makes_the_databases_that_are_missing(
    db_world: World, tmp_path: Path
) -> None:
    platform = db_world.platform
    admin = db_world.person()
    quiet = Database(platform.db.url)  # no listeners: the database is not made on commit
    with quiet.transaction() as session:
        owner = users.get_by_email(session, admin.email)
        made = workspaces.create(session, None, name="Old", slug=unique("old-"), admin=owner)
        slug, workspace_id = made.slug, made.id
    quiet.dispose()
    result = on_server(platform, tmp_path)("db", "workspaces").ok()
    assert f"{slug}: ready" in result.stdout
    with platform.db.session() as session:
        row = session.get(WorkspaceDatabase, workspace_id)
        assert row is not None and row.ready_at is not None
    again = on_server(platform, tmp_path)("db", "workspaces").ok()
    assert slug not in again.stdout and "every workspace has its database" in again.stdout
