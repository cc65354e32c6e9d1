"""The workspace database page, on a SQLite file and on PostgreSQL: tables and their rows,
the SQL editor (read-only for viewers), saved queries, exports, and the connection box."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from joliba.domain.permissions import Role
from tests.conftest import World
from tests.web.page_client import Pages


@pytest.fixture(params=["file", "server"])
def db_pages(request: pytest.FixtureRequest, backend: str) -> Iterator[tuple[World, Pages]]:
    """A world and page clients of its server: SQLite files, or PostgreSQL databases."""
    world: World = request.getfixturevalue("world" if request.param == "file" else "db_world")
    with Pages(world.server.url, world.server.transport()) as pages:
        yield world, pages


def test_tables_rows_and_sql_for_editors_and_viewers(db_pages: tuple[World, Pages]) -> None:
    world, pages = db_pages
    admin, viewer = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, viewer, Role.VIEWER)
    editor = pages.signed_in(admin.email, admin.password)
    reader = pages.signed_in(viewer.email, viewer.password)
    page = reader.get(f"/w/{ws}/database")
    assert page.status_code == 200 and "No tables yet" in page.text
    assert "Your SQL runs read-only" in page.text and "Save as" not in page.text

    made = editor.post(
        f"/w/{ws}/database/query",
        {"sql": "CREATE TABLE cases AS SELECT 'Dosso' AS district, 12 AS n"},
        headers={"HX-Request": "true"},
    )
    assert made.status_code == 200 and "Done" in made.text
    editor.post(f"/w/{ws}/database/query", {"sql": "INSERT INTO cases VALUES ('<b>Tahoua</b>', 7)"})

    page = reader.get(f"/w/{ws}/database", params={"table": "cases"})
    assert ">cases</a>" in page.text and "database/tables/cases/preview" in page.text
    rows = reader.get(f"/w/{ws}/database/tables/cases/preview", params={"sort": "n"})
    assert rows.status_code == 200
    assert rows.text.index("&lt;b&gt;Tahoua&lt;/b&gt;") < rows.text.index("Dosso")  # escaped
    assert "<b>Tahoua</b>" not in rows.text

    answer = reader.post(
        f"/w/{ws}/database/query", {"sql": "SELECT district FROM cases WHERE n > 10"}
    )
    assert answer.status_code == 200 and "Dosso" in answer.text and "Export CSV" in answer.text
    refused = reader.post(
        f"/w/{ws}/database/query", {"sql": "DROP TABLE cases"}, headers={"HX-Request": "true"}
    )
    assert refused.status_code == 400 and "may only read" in refused.text
    exported = reader.post(
        f"/w/{ws}/database/export", {"sql": "SELECT * FROM cases ORDER BY n", "format": "csv"}
    )
    assert exported.text.splitlines() == ["district,n", "<b>Tahoua</b>,7", "Dosso,12"]


def test_saved_queries_from_the_editor(db_pages: tuple[World, Pages]) -> None:
    world, pages = db_pages
    admin = world.person()
    ws = world.workspace(admin)
    editor = pages.signed_in(admin.email, admin.password)
    saved = editor.post(
        f"/w/{ws}/database/queries", {"sql": "SELECT 42 AS answer", "name": "The answer"}
    )
    assert saved.status_code == 303
    page = editor.get(saved.headers["location"])
    assert "The answer" in page.text and "SELECT 42 AS answer</textarea>" in page.text
    unnamed = editor.post(f"/w/{ws}/database/queries", {"sql": "SELECT 1", "name": ""})
    assert unnamed.status_code == 400
    query_id = saved.headers["location"].split("query=", 1)[1].split("#", 1)[0]
    gone = editor.post(f"/w/{ws}/database/queries/{query_id}/delete", {})
    assert gone.status_code == 303
    assert "The answer" not in editor.get(f"/w/{ws}/database").text


def test_the_connection_box_reveals_passwords_to_editors(db_pages: tuple[World, Pages]) -> None:
    world, pages = db_pages
    admin, viewer = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, viewer, Role.VIEWER)
    editor = pages.signed_in(admin.email, admin.password)
    page = editor.get(f"/w/{ws}/database").text
    revealed = editor.post(f"/w/{ws}/database/reveal", {}, headers={"HX-Request": "true"})
    assert revealed.status_code == 200
    if world.platform.databases.server is None:
        assert "SQLite file" in page and "no passwords" in revealed.text
        return
    details = admin.api.get(f"/workspaces/{ws}/database", params={"reveal": "true"}).json()
    assert details["database"] in page and details["read_only_user"] in page
    assert details["password"] not in page  # only when asked for
    assert details["read_only_password"] in revealed.text
    assert (
        "Show passwords"
        not in pages.signed_in(viewer.email, viewer.password).get(f"/w/{ws}/database").text
    )
