"""The workspace database through the API, on a SQLite file (``world``) and on PostgreSQL
(``db_world``): viewers read, editors write, every SQL run and export is audited, and a
workspace keeps named queries."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from joliba.db.tables import AuditEntry
from joliba.domain.permissions import Role
from joliba.services import workspaces
from tests.conftest import World


@pytest.fixture(params=["file", "server"])
def any_world(request: pytest.FixtureRequest, backend: str) -> World:
    """Workspaces whose databases are SQLite files, or PostgreSQL databases (on both
    metadata backends)."""
    found: World = request.getfixturevalue("world" if request.param == "file" else "db_world")
    return found


def _sql(person: object, ws: str, sql: str, status: int = 200) -> dict[str, object]:
    r = person.api.post(f"/workspaces/{ws}/database/query", json={"sql": sql})  # type: ignore[attr-defined]
    assert r.status_code == status, r.text
    body: dict[str, object] = r.json()
    return body


def test_viewers_read_editors_write_and_every_query_is_audited(any_world: World) -> None:
    world = any_world
    admin, editor, viewer = world.person(), world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, editor, Role.EDITOR)
    world.add_member(ws, viewer, Role.VIEWER)
    made = _sql(editor, ws, "CREATE TABLE cases (district TEXT, n INTEGER)")
    assert made["role"] == "owner"
    assert _sql(editor, ws, "INSERT INTO cases VALUES ('Dosso', 12), ('Tahoua', 7)")["changed"] == 2
    read = _sql(viewer, ws, "SELECT district, n FROM cases ORDER BY n")
    assert read["rows"] == [["Tahoua", 7], ["Dosso", 12]] and read["role"] == "read_only"
    refused = _sql(viewer, ws, "DELETE FROM cases", status=400)
    assert "may only read" in str(refused["error"])
    assert _sql(viewer, ws, "SELECT count(*) FROM cases")["rows"] == [[2]]

    tables = viewer.api.get(f"/workspaces/{ws}/database/tables").json()
    assert [(t["name"], t["rows"]) for t in tables] == [("cases", 2)]
    page = viewer.api.get(
        f"/workspaces/{ws}/database/tables/cases/rows", params={"sort": "n", "desc": "true"}
    ).json()
    assert page["rows"] == [["Dosso", 12], ["Tahoua", 7]] and page["total"] == 2
    assert viewer.api.get(f"/workspaces/{ws}/database/tables/nope/rows").status_code == 404

    with world.platform.db.session() as session:
        workspace = workspaces.by_slug(session, ws)
        entries = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.workspace_id == workspace.id, AuditEntry.action == "database.query")
            .order_by(AuditEntry.at)
        ).all()
    shown = [(e.details["sql"], e.details["role"], e.details.get("error", "")) for e in entries]
    assert [s[:2] for s in shown] == [
        ("CREATE TABLE cases (district TEXT, n INTEGER)", "owner"),
        ("INSERT INTO cases VALUES ('Dosso', 12), ('Tahoua', 7)", "owner"),
        ("SELECT district, n FROM cases ORDER BY n", "read_only"),
        ("DELETE FROM cases", "read_only"),
        ("SELECT count(*) FROM cases", "read_only"),
    ]
    assert "may only read" in shown[3][2]


def test_exports_and_saved_queries(any_world: World) -> None:
    world = any_world
    admin, viewer = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, viewer, Role.VIEWER)
    _sql(admin, ws, "CREATE TABLE cases AS SELECT 'Dosso' AS district, 12 AS n")
    r = viewer.api.post(
        f"/workspaces/{ws}/database/export", json={"sql": "SELECT * FROM cases", "format": "csv"}
    )
    assert r.status_code == 200, r.text
    assert r.text.splitlines() == ["district,n", "Dosso,12"]
    assert "attachment" in r.headers["content-disposition"]
    r = viewer.api.post(
        f"/workspaces/{ws}/database/export", json={"sql": "SELECT * FROM cases", "format": "xlsx"}
    )
    assert r.status_code == 200 and r.content[:2] == b"PK"

    body = {"name": "Cases by district", "sql": "SELECT * FROM cases"}
    assert viewer.api.post(f"/workspaces/{ws}/database/queries", json=body).status_code == 403
    saved = admin.api.post(f"/workspaces/{ws}/database/queries", json=body)
    assert saved.status_code == 201, saved.text
    again = admin.api.post(
        f"/workspaces/{ws}/database/queries", json={**body, "sql": "SELECT district FROM cases"}
    )
    assert again.json()["id"] == saved.json()["id"]  # the same name: replaced
    listed = viewer.api.get(f"/workspaces/{ws}/database/queries").json()
    assert [(q["name"], q["sql"]) for q in listed] == [
        ("Cases by district", "SELECT district FROM cases")
    ]
    gone = admin.api.delete(f"/workspaces/{ws}/database/queries/{saved.json()['id']}")
    assert gone.status_code == 204
    assert viewer.api.get(f"/workspaces/{ws}/database/queries").json() == []


def test_large_postgresql_tables_show_an_estimate_not_a_count(db_world: World) -> None:
    admin = db_world.person()
    ws = db_world.workspace(admin)
    _sql(admin, ws, "CREATE TABLE big AS SELECT g AS n FROM generate_series(1, 1200000) AS g")
    _sql(admin, ws, "CREATE TABLE small AS SELECT g AS n FROM generate_series(1, 10) AS g")
    _sql(admin, ws, "ANALYZE big")
    tables = {t["name"]: t for t in admin.api.get(f"/workspaces/{ws}/database/tables").json()}
    assert tables["small"]["rows"] == 10 and tables["small"]["rows_estimated"] is False
    assert tables["big"]["rows_estimated"] is True
    assert 1_000_000 <= tables["big"]["rows"] <= 1_400_000  # statistics, near the truth
