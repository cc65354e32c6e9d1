"""Sharing datasets: read-only shares with other workspaces, dataset tokens, the access
log, dataset triggers, and uploads that resume after a broken connection."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import AsyncIterator, Callable
from urllib.parse import urlparse

import pytest
from starlette.requests import Request

from joliba.api import datasets as datasets_api
from joliba.domain.permissions import Role
from tests.api.test_dataset_tables import CASES, publish
from tests.conftest import World
from tests.fixtures.waiting import eventually
from tests.pipeline_helpers import push, wait_for_run


def test_share_read_only_revoke(world: World) -> None:
    owner, partner_admin, outsider = world.person(), world.person(), world.person()
    ws = world.workspace(owner)
    partner = world.workspace(partner_admin)
    viewer = world.person()
    world.add_member(partner, viewer, Role.VIEWER)
    base = publish(owner.api, ws, "cases", {"cases.csv": CASES})
    owner.api.post(f"/workspaces/{ws}/datasets/cases/versions", json={"name": "wip"})

    shared = owner.api.post(f"/workspaces/{ws}/datasets/cases/shares", json={"workspace": partner})
    assert shared.status_code == 201, shared.text
    again = owner.api.post(f"/workspaces/{ws}/datasets/cases/shares", json={"workspace": partner})
    assert again.status_code == 409
    own = owner.api.post(f"/workspaces/{ws}/datasets/cases/shares", json={"workspace": ws})
    assert own.status_code == 400

    listed = viewer.api.get(f"/workspaces/{partner}/datasets").json()["items"]
    assert [(d["ref"], d["workspace"], d["shared"]) for d in listed] == [(f"{ws}.cases", ws, True)]
    for ref in (f"{ws}.cases", "cases"):
        here = f"/workspaces/{partner}/datasets/{ref}"
        assert viewer.api.get(here).status_code == 200, ref
        versions = viewer.api.get(f"{here}/versions").json()["items"]
        assert [v["name"] for v in versions] == ["v1"], "drafts stay with the owner"
        assert viewer.api.get(f"{here}/versions/wip").status_code == 404
        page = viewer.api.get(f"{here}/versions/latest/files/cases.csv/preview").json()
        assert page["total"] == 4
        assert viewer.api.get(f"{here}/versions/1/files/cases.csv").content == CASES
    # Read-only, even for the partner workspace's admin.
    here = f"/workspaces/{partner}/datasets/{ws}.cases"
    assert partner_admin.api.post(f"{here}/versions", json={}).status_code == 404
    assert partner_admin.api.post(f"{here}/shares", json={"workspace": partner}).status_code == 404
    assert partner_admin.api.get(f"{here}/access").status_code == 404
    # Outsiders see nothing, by either name.
    assert outsider.api.get(f"/workspaces/{partner}/datasets/{ws}.cases").status_code == 404
    assert outsider.api.get(f"{base}/files/cases.csv").status_code == 404

    # A new version reaches the partner.
    publish(owner.api, ws, "cases", {"cases.csv": CASES + b"Bonthe,202403,1,2024-04-02\n"})
    latest = viewer.api.get(f"{here}/versions/latest").json()
    assert latest["number"] == 3

    log = owner.api.get(f"/workspaces/{ws}/datasets/cases/access").json()
    entries = [(e["action"], e["user"], e["workspace"], e["version"]) for e in log["items"]]
    assert ("download", viewer.email, partner, "v1") in entries
    assert ("preview", viewer.email, partner, "v1") in entries
    assert all(e["via"] == "api token test" for e in log["items"])
    download = next(e for e in log["items"] if e["action"] == "download")
    assert download["bytes"] == len(CASES) and download["file"] == "cases.csv"

    assert owner.api.delete(f"/workspaces/{ws}/datasets/cases/shares/{partner}").status_code == 204
    assert viewer.api.get(here).status_code == 404
    assert viewer.api.get(f"/workspaces/{partner}/datasets").json()["total"] == 0
    assert owner.api.delete(f"/workspaces/{ws}/datasets/cases/shares/{partner}").status_code == 404


def test_the_access_log_is_for_admins_of_the_owner(world: World) -> None:
    owner, editor = world.person(), world.person()
    ws = world.workspace(owner)
    world.add_member(ws, editor, Role.EDITOR)
    base = publish(owner.api, ws, "cases", {"cases.csv": CASES})
    editor.api.post(f"{base}/query", json={"sql": "SELECT * FROM cases WHERE cases > 10"})
    editor.api.get(f"{base}/files/cases.csv/export", params={"format": "parquet"})
    publish(owner.api, ws, "cases", {"cases.csv": CASES + b"Bo,202403,1,2024-04-02\n"})
    editor.api.get(f"/workspaces/{ws}/datasets/cases/diff", params={"old": "1", "new": "2"})
    assert editor.api.get(f"/workspaces/{ws}/datasets/cases/access").status_code == 403
    log = owner.api.get(f"/workspaces/{ws}/datasets/cases/access").json()["items"]
    assert [(e["action"], e["version"], e["rows"]) for e in log] == [
        ("diff", "v1 → v2", None),
        ("export", "v1", 4),
        ("query", "v1", 2),
    ]
    assert log[1]["bytes"] > 0 and log[1]["user"] == editor.email


def test_dataset_token_reads_one_dataset_and_is_revocable(world: World) -> None:
    owner = world.person()
    ws = world.workspace(owner)
    base = publish(owner.api, ws, "cases", {"cases.csv": CASES})
    publish(owner.api, ws, "other", {"other.csv": b"a\n1\n"})
    owner.api.post(f"/workspaces/{ws}/datasets/cases/versions", json={"name": "draft"})
    created = owner.api.post(f"/workspaces/{ws}/datasets/cases/tokens", json={"name": "Superset"})
    assert created.status_code == 201 and created.json()["token"].startswith("jld_")
    listed = owner.api.get(f"/workspaces/{ws}/datasets/cases/tokens").json()
    assert "token" not in listed[0] and listed[0]["name"] == "Superset"
    bi = world.client(created.json()["token"])

    assert bi.get(f"{base}/files/cases.csv").content == CASES
    assert bi.get(f"/workspaces/{ws}/datasets").json()["total"] == 1
    assert bi.get(f"/workspaces/{ws}/datasets/other").status_code == 404
    assert bi.get(f"/workspaces/{ws}/datasets/cases/versions/draft").status_code == 404
    assert bi.post(f"/workspaces/{ws}/datasets/cases/versions", json={}).status_code == 403
    assert bi.get(f"/workspaces/{ws}/files").status_code == 403
    assert bi.post("/me/tokens", json={"name": "escalate"}).status_code == 403
    log = owner.api.get(f"/workspaces/{ws}/datasets/cases/access").json()["items"]
    assert log[0]["via"] == "dataset token Superset"

    token_id = created.json()["id"]
    assert owner.api.delete(f"/workspaces/{ws}/datasets/cases/tokens/{token_id}").status_code == 204
    assert bi.get(f"{base}/files/cases.csv").status_code == 401


def test_publishing_starts_triggered_pipelines(world: World) -> None:
    owner, partner_admin = world.person(), world.person()
    ws, partner = world.workspace(owner), world.workspace(partner_admin)
    publish(owner.api, ws, "cases", {"cases.csv": CASES})
    owner.api.post(f"/workspaces/{ws}/datasets/cases/shares", json={"workspace": partner})
    push(owner.api, ws, "report")
    push(partner_admin.api, partner, "mirror")
    for api, space, code, ref in (
        (owner.api, ws, "report", "cases"),
        (partner_admin.api, partner, "mirror", f"{ws}.cases"),
    ):
        set_ = api.post(
            f"/workspaces/{space}/pipelines/{code}/dataset-triggers", json={"dataset": ref}
        )
        assert set_.status_code == 201, set_.text
        listed = api.get(f"/workspaces/{space}/pipelines/{code}/dataset-triggers").json()
        assert [t["dataset"] for t in listed] == [ref]
    missing = owner.api.post(
        f"/workspaces/{ws}/pipelines/report/dataset-triggers", json={"dataset": "nope"}
    )
    assert missing.status_code == 404

    publish(owner.api, ws, "cases", {"cases.csv": CASES + b"Bo,202403,1,2024-04-01\n"})
    for api, space, code in ((owner.api, ws, "report"), (partner_admin.api, partner, "mirror")):
        runs = api.get(f"/workspaces/{space}/pipelines/{code}/runs").json()["items"]
        assert [r["trigger"] for r in runs] == ["dataset"], code
        wait_for_run(api, space, runs[0]["id"])

    owner.api.delete(f"/workspaces/{ws}/datasets/cases/shares/{partner}")
    publish(owner.api, ws, "cases", {"cases.csv": CASES + b"Bo,202404,2,2024-05-01\n"})
    mirror = partner_admin.api.get(f"/workspaces/{partner}/pipelines/mirror/runs").json()
    assert mirror["total"] == 1, "a revoked share stops the trigger"
    assert owner.api.get(f"/workspaces/{ws}/pipelines/report/runs").json()["total"] == 2


def _count_body_bytes(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """How many bytes of upload bodies the server's handlers have taken in so far.

    Bytes still in the connection's buffers when it breaks are lost with it, as they would be
    on a real network: a test of what the server keeps must hang up after they were read.
    """
    taken = 0
    stream_into = datasets_api._stream_into

    async def counting(request: Request, *args: object) -> None:
        body = request.stream

        async def counted() -> AsyncIterator[bytes]:
            nonlocal taken
            async for chunk in body():
                taken += len(chunk)
                yield chunk

        setattr(request, "stream", counted)  # noqa: B010 (a method: mypy refuses an assignment)
        await stream_into(request, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(datasets_api, "_stream_into", counting)
    return lambda: taken


def test_a_broken_upload_resumes_where_it_stopped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = world.person()
    ws = world.workspace(owner)
    owner.api.post(f"/workspaces/{ws}/datasets", json={"name": "big"})
    owner.api.post(f"/workspaces/{ws}/datasets/big/versions", json={})
    base = f"/workspaces/{ws}/datasets/big/versions/1"
    content = os.urandom(3 * 1024 * 1024 + 17)
    digest = hashlib.sha256(content).hexdigest()
    sent = 2 * 1024 * 1024

    # Declare the whole length, send two thirds, and hang up once the server has read them: a
    # broken connection.
    taken = _count_body_bytes(monkeypatch)
    url = urlparse(world.server.url)
    with socket.create_connection((url.hostname, url.port)) as raw:
        head = (
            f"PUT /api/v1{base}/files/big.bin HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Authorization: Bearer {owner.token}\r\nX-Content-SHA256: {digest}\r\n"
            f"Content-Length: {len(content)}\r\n\r\n"
        )
        raw.sendall(head.encode() + content[:sent])
        eventually(lambda: taken() >= sent, timeout=10, message=lambda: f"read {taken()} bytes")
    state_url = f"{base}/files/big.bin/upload"
    eventually(
        lambda: owner.api.get(state_url, params={"sha256": digest}).json()["received"] >= sent,
        timeout=10,
        interval=0.1,
        message="the server did not keep what arrived",
    )
    assert owner.api.get(base).json()["files"] == [], "nothing visible before it is complete"
    assert owner.api.post(f"{base}/publish").status_code == 400

    wrong = owner.api.put(
        f"{base}/files/big.bin",
        content=content[10:],
        headers={"X-Content-SHA256": digest, "X-Upload-Offset": "10"},
    )
    assert wrong.status_code == 409 and wrong.json()["error"]["details"]["received"] == sent
    done = owner.api.put(
        f"{base}/files/big.bin",
        content=content[sent:],
        headers={"X-Content-SHA256": digest, "X-Upload-Offset": str(sent)},
    )
    assert done.status_code == 201, done.text
    assert done.json()["sha256"] == digest and done.json()["size"] == len(content)
    assert owner.api.get(state_url, params={"sha256": digest}).json()["received"] == 0
    assert owner.api.post(f"{base}/publish").status_code == 200
    assert owner.api.get(f"{base}/files/big.bin").content == content
