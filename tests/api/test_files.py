"""Workspace files through the API, on the local disk and on S3 (moto's server)."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from tests.conftest import World

BAD_PATHS = [
    "../escape.txt",
    "a/../../escape.txt",
    "a/./b.txt",
    "a//b.txt",
    "dir\\file.txt",
    "%2Fetc%2Fpasswd",
    "..%2Fescape.txt",
    "a/%2E%2E/%2E%2E/x",
    ".joliba-folder",
    "bad%00name",
]


def raw_put(world: World, token: str, path: str) -> tuple[int, str]:
    url = urlsplit(world.server.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=30)
    try:
        conn.request("PUT", path, body=b"evil", headers={"Authorization": f"Bearer {token}"})
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _names(world: World, api: httpx.Client, ws: str, path: str = "") -> list[str]:
    r = api.get(f"/workspaces/{ws}/files", params={"path": path})
    assert r.status_code == 200, r.text
    return [e["name"] for e in r.json()["items"]]


def test_upload_list_download_delete(files_world: World) -> None:
    admin = files_world.person()
    ws = files_world.workspace(admin)
    data = os.urandom(3 * 1024 * 1024 + 17)  # spans several write buffers
    r = admin.api.put(f"/workspaces/{ws}/files/reports/2025/cases.bin", content=data)
    assert r.status_code == 201, r.text
    assert r.json() == {"path": "reports/2025/cases.bin", "size": len(data), "replaced": False}
    assert _names(files_world, admin.api, ws) == ["reports"]
    listing = admin.api.get(f"/workspaces/{ws}/files", params={"path": "reports/2025"}).json()
    assert listing["items"][0]["size"] == len(data)
    assert listing["items"][0]["type"] == "file"
    r = admin.api.get(f"/workspaces/{ws}/files/reports/2025/cases.bin")
    assert r.status_code == 200
    assert hashlib.sha256(r.content).digest() == hashlib.sha256(data).digest()
    assert "cases.bin" in r.headers["content-disposition"]
    # Existing files are not replaced unless asked.
    r = admin.api.put(f"/workspaces/{ws}/files/reports/2025/cases.bin", content=b"new")
    assert r.status_code == 409
    r = admin.api.put(
        f"/workspaces/{ws}/files/reports/2025/cases.bin",
        content=b"new",
        params={"overwrite": "true"},
    )
    assert r.status_code == 200 and r.json()["replaced"] is True
    assert admin.api.get(f"/workspaces/{ws}/files/reports/2025/cases.bin").content == b"new"
    assert admin.api.delete(f"/workspaces/{ws}/files/reports").status_code == 204
    assert _names(files_world, admin.api, ws) == []
    assert admin.api.get(f"/workspaces/{ws}/files/reports/2025/cases.bin").status_code == 404


def test_folders_and_moves(files_world: World) -> None:
    admin = files_world.person()
    ws = files_world.workspace(admin)
    r = admin.api.post(f"/workspaces/{ws}/folders", json={"path": "inbox/empty"})
    assert r.status_code == 201 and r.json()["type"] == "folder"
    assert _names(files_world, admin.api, ws, "inbox") == ["empty"]
    assert _names(files_world, admin.api, ws, "inbox/empty") == []
    assert admin.api.post(f"/workspaces/{ws}/folders", json={"path": "inbox"}).status_code == 409
    admin.api.put(f"/workspaces/{ws}/files/inbox/a.csv", content=b"x,y\n")
    r = admin.api.post(
        f"/workspaces/{ws}/file-moves", json={"source": "inbox/a.csv", "destination": "out/b.csv"}
    )
    assert r.status_code == 200, r.text
    assert admin.api.get(f"/workspaces/{ws}/files/out/b.csv").content == b"x,y\n"
    assert _names(files_world, admin.api, ws, "inbox") == ["empty"]
    r = admin.api.post(
        f"/workspaces/{ws}/file-moves", json={"source": "out", "destination": "out/inner"}
    )
    assert r.status_code == 400
    r = admin.api.post(f"/workspaces/{ws}/file-moves", json={"source": "nope", "destination": "x"})
    assert r.status_code == 404
    r = admin.api.put(f"/workspaces/{ws}/files/out/b.csv/child.txt", content=b"x")
    assert r.status_code == 409  # a file cannot hold files


@pytest.mark.parametrize("bad", BAD_PATHS)
def test_paths_that_escape_are_refused_and_nothing_is_written(files_world: World, bad: str) -> None:
    admin = files_world.person()
    ws = files_world.workspace(admin)
    other = files_world.workspace(admin)
    # http.client sends the path as written (httpx would remove dot segments first).
    status, body = raw_put(files_world, admin.token, f"/api/v1/workspaces/{ws}/files/{bad}")
    assert status in (400, 404), body  # 404 only when no route matched at all
    assert json.loads(body)["error"]["code"] in ("invalid", "not_found")
    decoded = unquote(bad)  # JSON bodies carry the decoded name
    r = admin.api.post(f"/workspaces/{ws}/folders", json={"path": decoded})
    assert r.status_code == 400
    r = admin.api.post(f"/workspaces/{ws}/file-moves", json={"source": "x", "destination": decoded})
    assert r.status_code in (400, 404)
    assert _names(files_world, admin.api, ws) == []
    assert _names(files_world, admin.api, other) == []


def test_absolute_paths_are_refused(files_world: World) -> None:
    admin = files_world.person()
    ws = files_world.workspace(admin)
    r = admin.api.post(f"/workspaces/{ws}/folders", json={"path": "/etc/joliba"})
    assert r.status_code == 400 and "absolute" in r.json()["error"]["message"]
    r = admin.api.get(f"/workspaces/{ws}/files", params={"path": "/"})
    assert r.status_code == 400


def test_workspaces_do_not_share_files(files_world: World) -> None:
    admin = files_world.person()
    first, second = files_world.workspace(admin), files_world.workspace(admin)
    admin.api.put(f"/workspaces/{first}/files/only-here.txt", content=b"1")
    assert _names(files_world, admin.api, second) == []
    assert admin.api.get(f"/workspaces/{second}/files/only-here.txt").status_code == 404


def test_interrupted_upload_leaves_nothing(files_world: World) -> None:
    admin = files_world.person()
    ws = files_world.workspace(admin)

    def broken() -> Iterator[bytes]:
        yield b"x" * (2 * 1024 * 1024)
        raise ConnectionError("network dropped")

    with pytest.raises(Exception):  # noqa: B017 (the client sees its own broken stream)
        admin.api.put(f"/workspaces/{ws}/files/partial.bin", content=broken())
    assert "partial.bin" not in _names(files_world, admin.api, ws)
    # The server is still fine and the name is free.
    r = admin.api.put(f"/workspaces/{ws}/files/partial.bin", content=b"whole")
    assert r.status_code == 201


def test_upload_limit(world: World, tmp_path: Path) -> None:
    from joliba.app import create_app
    from joliba.services.platform import Platform
    from tests.conftest import LiveServer, make_settings

    settings = make_settings(
        tmp_path,
        world.platform.settings.resolved_database_url,
        max_upload_bytes=1000,
        secret_key=world.platform.settings.secret_key_value(),
    )
    limited = Platform.from_settings(settings)
    with LiveServer(create_app(platform=limited)) as live:
        small = World(limited, live)
        admin = small.person()
        ws = small.workspace(admin)
        r = admin.api.put(f"/workspaces/{ws}/files/big.bin", content=b"x" * 5000)
        assert r.status_code == 413
        r = admin.api.put(f"/workspaces/{ws}/files/big.bin", content=iter([b"x" * 600, b"x" * 600]))
        assert r.status_code == 413
        assert admin.api.get(f"/workspaces/{ws}/files").json()["total"] == 0
        assert (
            admin.api.put(f"/workspaces/{ws}/files/ok.bin", content=b"x" * 900).status_code == 201
        )
        small.close()
    limited.close()
