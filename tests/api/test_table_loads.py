"""Loading a dataset's table into the workspace database, once and kept in step with the
dataset's new versions, on SQLite files and on PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from joliba.domain.permissions import Role
from tests.conftest import Person, World
from tests.fixtures.waiting import eventually


@pytest.fixture(params=["file", "server"])
def any_world(request: pytest.FixtureRequest, backend: str) -> World:
    found: World = request.getfixturevalue("world" if request.param == "file" else "db_world")
    return found


def _publish(person: Person, ws: str, slug: str, files: dict[str, bytes]) -> int:
    base = f"/workspaces/{ws}/datasets/{slug}/versions"
    number = int(person.api.post(base, json={}).json()["number"])
    for name, content in files.items():
        assert person.api.put(f"{base}/{number}/files/{name}", content=content).status_code == 201
    assert person.api.post(f"{base}/{number}/publish").status_code == 200
    return number


def _sql(person: Person, ws: str, sql: str) -> Any:
    r = person.api.post(f"/workspaces/{ws}/database/query", json={"sql": sql})
    assert r.status_code == 200, r.text
    return r.json()["rows"]


def test_a_table_loaded_once_and_one_kept_in_step(any_world: World) -> None:
    world = any_world
    admin, viewer = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, viewer, Role.VIEWER)
    assert admin.api.post(f"/workspaces/{ws}/datasets", json={"name": "Cases"}).status_code == 201
    _publish(
        admin, ws, "cases", {"cases.csv": b"district,n\nDosso,12\nTahoua,7\n", "notes.txt": b"x"}
    )

    body = {"dataset": "cases", "file": "cases.csv", "table": "cases"}
    assert (
        world.client(viewer.token).post(f"/workspaces/{ws}/database/loads", json=body).status_code
        == 403
    )
    r = admin.api.post(f"/workspaces/{ws}/database/loads", json=body)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "table": "cases",
        "rows": 2,
        "dataset": "cases",
        "version": 1,
        "file": "cases.csv",
        "following": False,
    }
    assert _sql(viewer, ws, "SELECT district, n FROM cases ORDER BY n") == [
        ["Tahoua", 7],
        ["Dosso", 12],
    ]
    bad = admin.api.post(f"/workspaces/{ws}/database/loads", json={**body, "file": "notes.txt"})
    assert bad.status_code == 400 and "not a table" in bad.text

    followed = {**body, "table": "latest_cases", "follow": True}
    assert admin.api.post(f"/workspaces/{ws}/database/loads", json=followed).status_code == 201
    _publish(admin, ws, "cases", {"cases.csv": b"district,n\nDosso,13\nTahoua,8\nZinder,1\n"})
    eventually(
        lambda: _sql(viewer, ws, "SELECT count(*) FROM latest_cases") == [[3]],
        timeout=30,
        message="the followed table to hold version 2",
    )
    assert _sql(viewer, ws, "SELECT count(*) FROM cases") == [[2]]  # loaded once: unchanged
    follows = viewer.api.get(f"/workspaces/{ws}/database/follows").json()
    assert [(f["table"], f["dataset"], f["error"]) for f in follows] == [
        ("latest_cases", "cases", "")
    ]
    assert admin.api.delete(f"/workspaces/{ws}/database/follows/latest_cases").status_code == 204
    assert viewer.api.get(f"/workspaces/{ws}/database/follows").json() == []
    # Every load is in the dataset's access log: the two asked for by the admin, and the
    # follower's load of version 2, done by the server for the workspace.
    log = admin.api.get(f"/workspaces/{ws}/datasets/cases/access").json()["items"]
    loads = [(e["version"], e["user"], e["workspace"], e["via"], e["rows"]) for e in log]
    assert ("2", None, ws, "table latest_cases kept in step", 3) in loads
    assert sum(1 for e in log if e["action"] == "load" and e["user"] == admin.email) == 2


def test_a_shared_dataset_loads_into_the_readers_database(any_world: World) -> None:
    world = any_world
    owner, reader = world.person(), world.person()
    source, target = world.workspace(owner), world.workspace(reader)
    assert owner.api.post(f"/workspaces/{source}/datasets", json={"name": "Pop"}).status_code == 201
    _publish(owner, source, "pop", {"pop.csv": b"district,people\nDosso,100\n"})
    body = {"dataset": f"{source}.pop", "file": "pop.csv", "table": "pop"}
    assert reader.api.post(f"/workspaces/{target}/database/loads", json=body).status_code == 404
    shared = owner.api.post(f"/workspaces/{source}/datasets/pop/shares", json={"workspace": target})
    assert shared.status_code == 201, shared.text
    r = reader.api.post(f"/workspaces/{target}/database/loads", json=body)
    assert r.status_code == 201, r.text
    assert _sql(reader, target, "SELECT people FROM pop") == [[100]]
