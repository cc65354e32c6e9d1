"""Datasets through the API: drafts take streamed files checked by hash, publishing freezes
them, the same content is stored once, and reads return the exact bytes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from joliba.domain.permissions import Role
from tests.conftest import World

CSV = b"org_unit,period,value\nBo,202401,12\nKenema,202401,7\n"


def _blob_files(root: str) -> list[Path]:
    return [p for p in Path(root, "blobs").rglob("*") if p.is_file()]


def test_draft_upload_publish_download(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    api = admin.api
    created = api.post(
        f"/workspaces/{ws}/datasets",
        json={"name": "Malaria cases", "description": "Cleaned", "tags": ["Malaria", "HMIS"]},
    )
    assert created.status_code == 201, created.text
    slug = created.json()["slug"]
    assert slug == "malaria-cases" and created.json()["tags"] == ["hmis", "malaria"]
    draft = api.post(f"/workspaces/{ws}/datasets/{slug}/versions", json={"changelog": "first"})
    assert draft.status_code == 201, draft.text
    assert draft.json()["name"] == "v1" and draft.json()["state"] == "draft"
    base = f"/workspaces/{ws}/datasets/{slug}/versions/v1"

    empty = api.post(f"{base}/publish")
    assert empty.status_code == 400
    wrong = api.put(f"{base}/files/cases.csv", content=CSV, headers={"X-Content-SHA256": "0" * 64})
    assert wrong.status_code == 400 and "SHA-256" in wrong.json()["error"]["message"]
    digest = hashlib.sha256(CSV).hexdigest()
    stored = api.put(f"{base}/files/cases.csv", content=CSV, headers={"X-Content-SHA256": digest})
    assert stored.status_code == 201, stored.text
    assert stored.json() == {**stored.json(), "sha256": digest, "size": len(CSV), "kind": "csv"}
    other = api.put(f"{base}/files/notes.txt", content=b"read me")
    assert other.json()["kind"] == "file"
    assert api.get(f"/workspaces/{ws}/datasets/{slug}").json()["latest"] is None

    published = api.post(f"{base}/publish")
    assert published.status_code == 200, published.text
    assert published.json()["state"] == "published" and published.json()["author"] == admin.email
    assert [f["name"] for f in published.json()["files"]] == ["cases.csv", "notes.txt"]
    assert api.post(f"{base}/publish").status_code == 409
    assert api.put(f"{base}/files/more.csv", content=b"a\n1\n").status_code == 409
    assert api.delete(f"{base}/files/notes.txt").status_code == 409
    assert api.delete(base).status_code == 409, "a published version never goes"
    draft2 = api.post(f"/workspaces/{ws}/datasets/{slug}/versions", json={"name": "oops"})
    api.put(f"/workspaces/{ws}/datasets/{slug}/versions/oops/files/x.csv", content=b"x\n")
    assert api.delete(f"/workspaces/{ws}/datasets/{slug}/versions/oops").status_code == 204
    gone = api.get(f"/workspaces/{ws}/datasets/{slug}/versions/{draft2.json()['number']}")
    assert gone.status_code == 404

    for ref in ("v1", "1", "latest"):
        body = api.get(f"/workspaces/{ws}/datasets/{slug}/versions/{ref}/files/cases.csv")
        assert body.status_code == 200 and body.content == CSV, ref
    listed = api.get(f"/workspaces/{ws}/datasets", params={"tag": "malaria"}).json()
    assert [d["slug"] for d in listed["items"]] == [slug]
    assert api.get(f"/workspaces/{ws}/datasets", params={"tag": "nothing"}).json()["total"] == 0
    assert api.get(f"/workspaces/{ws}/datasets/{slug}").json()["latest"]["name"] == "v1"


def test_the_same_content_is_stored_once_across_versions_and_workspaces(world: World) -> None:
    admin = world.person()
    first, second = world.workspace(admin), world.workspace(admin)
    content = os.urandom(300_000)
    root = world.platform.store.root
    before = len(_blob_files(root))
    for ws in (first, second):
        api = admin.api
        api.post(f"/workspaces/{ws}/datasets", json={"name": "Shared", "slug": "shared"})
        for _ in range(2):
            number = api.post(f"/workspaces/{ws}/datasets/shared/versions", json={}).json()[
                "number"
            ]
            r = api.put(
                f"/workspaces/{ws}/datasets/shared/versions/{number}/files/x.bin", content=content
            )
            assert r.status_code == 201, r.text
    if world.platform.store.is_local:
        assert len(_blob_files(root)) == before + 1
        assert not [p for p in Path(root, "blobs", ".staging").rglob("*") if p.is_file()]


def test_roles_and_outsiders(world: World) -> None:
    admin, viewer, outsider = world.person(), world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, viewer, Role.VIEWER)
    admin.api.post(f"/workspaces/{ws}/datasets", json={"name": "Cases", "slug": "cases"})
    admin.api.post(f"/workspaces/{ws}/datasets/cases/versions", json={})
    admin.api.put(f"/workspaces/{ws}/datasets/cases/versions/1/files/a.csv", content=CSV)
    admin.api.post(f"/workspaces/{ws}/datasets/cases/versions/1/publish")
    got = viewer.api.get(f"/workspaces/{ws}/datasets/cases/versions/latest/files/a.csv")
    assert got.content == CSV
    assert viewer.api.post(f"/workspaces/{ws}/datasets/cases/versions", json={}).status_code == 403
    assert outsider.api.get(f"/workspaces/{ws}/datasets/cases").status_code == 404
    assert (
        outsider.api.get(f"/workspaces/{ws}/datasets/cases/versions/1/files/a.csv").status_code
        == 404
    )
    bad_name = admin.api.post(f"/workspaces/{ws}/datasets/cases/versions", json={"name": "7"})
    assert bad_name.status_code == 400
