"""What a pipeline run leaves in its workspace's files never leads the server out of them.

A run writes the local workspace folder with its own rights (inside its sandbox); the server
serves, moves and deletes those files with the server's. Here the test plays the run: it
leaves links to the secret key, to another workspace's folder and to /etc, and a FIFO, in the
folder on disk; then a member of the workspace tries every file operation through the API.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import select

from joliba.db.tables import Workspace
from tests.conftest import World


def _folder(world: World, slug: str) -> Path:
    with world.platform.db.session(write=False) as session:
        workspace_id = session.scalars(select(Workspace.id).where(Workspace.slug == slug)).one()
    folder = Path(world.platform.store.workspace_files(workspace_id).root)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_links_and_fifos_left_by_a_run_are_never_followed(world: World) -> None:
    editor, other_admin = world.person(), world.person()
    ws, other = world.workspace(editor), world.workspace(other_admin)
    r = other_admin.api.put(f"/workspaces/{other}/files/linelist.csv", content=b"p1,positive")
    assert r.status_code == 201, r.text
    secret_key = world.platform.settings.home / "secret_key"
    assert secret_key.exists()
    mine, theirs = _folder(world, ws), _folder(world, other)
    (mine / "own.txt").write_text("mine")
    (mine / "leak-key").symlink_to(secret_key)
    (mine / "leak-other").symlink_to(theirs)
    (mine / "leak-etc").symlink_to("/etc")
    os.mkfifo(mine / "blocker")

    api = editor.api
    listing = api.get(f"/workspaces/{ws}/files").json()["items"]
    assert [entry["name"] for entry in listing] == ["own.txt"]
    for path in ("leak-key", "leak-other/linelist.csv", "leak-etc/passwd", "blocker"):
        r = api.get(f"/workspaces/{ws}/files/{path}")
        assert r.status_code == 404, (path, r.text)
    r = api.get(f"/workspaces/{ws}/files", params={"path": "leak-other"})
    assert r.status_code == 404, r.text

    # Writing through a link: refused, and nothing lands where the link points.
    r = api.put(f"/workspaces/{ws}/files/leak-other/planted.csv", content=b"x")
    assert r.status_code in (404, 409), r.text
    assert sorted(p.name for p in theirs.iterdir()) == ["linelist.csv"]
    r = api.post(f"/workspaces/{ws}/folders", json={"path": "leak-other/sub"})
    assert r.status_code in (404, 409), r.text
    assert not (theirs / "sub").exists()
    # Uploading where a link stands replaces the link, never its target.
    r = api.put(f"/workspaces/{ws}/files/leak-key", content=b"new")
    assert r.status_code == 201, r.text
    assert not (mine / "leak-key").is_symlink()
    assert secret_key.read_bytes() != b"new"
    # Moving and deleting through a link: refused, the other workspace untouched.
    r = api.post(
        f"/workspaces/{ws}/file-moves",
        json={"source": "leak-other/linelist.csv", "destination": "stolen.csv"},
    )
    assert r.status_code in (404, 409), r.text
    r = api.post(
        f"/workspaces/{ws}/file-moves",
        json={"source": "own.txt", "destination": "leak-other/own.txt"},
    )
    assert r.status_code in (404, 409), r.text
    r = api.delete(f"/workspaces/{ws}/files/leak-other/linelist.csv")
    assert r.status_code == 404, r.text
    assert (theirs / "linelist.csv").read_bytes() == b"p1,positive"

    # A folder holding a link is deleted whole, the link's target untouched.
    (mine / "sub").mkdir()
    (mine / "sub" / "leak").symlink_to(theirs)
    assert api.delete(f"/workspaces/{ws}/files/sub").status_code == 204
    assert not (mine / "sub").exists()
    assert (theirs / "linelist.csv").exists()
