"""Disk quotas of workspace files: uploads and runs are stopped at the quota, shown on the
workspace page, set by instance admins."""

from __future__ import annotations

import shutil

import pytest

from joliba.domain.permissions import Role
from tests.conftest import World
from tests.pipeline_helpers import SIMPLE, SLEEPY, push, start_run, wait_for_log, wait_for_run
from tests.web.page_client import Pages

FILLS = """
import time
from joliba import current_run, pipeline, workspace

@pipeline(name="Fills")
def fills():
    for n in range(300):
        with workspace.open(f"fill/{n}.bin", "wb") as out:
            out.write(b"x" * (256 * 1024))
        time.sleep(0.05)
    current_run.log_info("wrote everything")
"""

GROWS = """
from joliba import pipeline, workspace

@pipeline(name="Grows")
def grows():
    with workspace.open("big.bin", "wb") as out:
        while True:  # as fast as the disk goes, far past the quota between two checks
            out.write(b"x" * (8 << 20))
"""


def test_only_instance_admins_set_quotas(world: World) -> None:
    admin, root = world.person(), world.person(superuser=True)
    ws = world.workspace(admin)
    world.add_member(ws, root, Role.VIEWER)
    assert admin.api.put(f"/workspaces/{ws}/quota", json={"quota_mb": 1}).status_code == 403
    answer = root.api.put(f"/workspaces/{ws}/quota", json={"quota_mb": 1})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"files_bytes": 0, "quota_mb": 1, "quota_source": "workspace"}
    usage = admin.api.get(f"/workspaces/{ws}/usage").json()
    assert usage["quota_mb"] == 1
    entries = admin.api.get(f"/workspaces/{ws}/audit", params={"action": "workspace.quota"})
    assert entries.json()["items"][0]["details"] == {"quota_mb": 1}
    reset = root.api.put(f"/workspaces/{ws}/quota", json={"quota_mb": None}).json()
    assert reset["quota_source"] == "instance"


@pytest.mark.usefixtures("needs_sandbox")
def test_uploads_and_runs_stop_at_the_quota(world: World) -> None:
    admin, root = world.person(), world.person(superuser=True)
    ws = world.workspace(admin)
    assert root.api.put(f"/workspaces/{ws}/quota", json={"quota_mb": 2}).status_code == 200
    assert admin.api.put(f"/workspaces/{ws}/files/a.bin", content=b"x" * 1_500_000).is_success
    refused = admin.api.put(f"/workspaces/{ws}/files/b.bin", content=b"y" * 1_000_000)
    assert refused.status_code == 413, refused.text
    assert "disk quota of 2 MB" in refused.json()["error"]["message"]
    names = [e["name"] for e in admin.api.get(f"/workspaces/{ws}/files").json()["items"]]
    assert names == ["a.bin"]  # nothing half-written stays
    with Pages(world.server.url) as pages:
        home = pages.signed_in(admin.email, admin.password).get(f"/w/{ws}")
        assert "1.4 MB of 2.0 MB" in home.text, home.text

    push(admin.api, ws, "fills", FILLS)
    push(admin.api, ws, "simple", SIMPLE)
    run = wait_for_run(admin.api, ws, start_run(admin.api, ws, "fills")["id"], timeout=120)
    assert run["state"] == "failed"
    assert run["error"] == "workspace disk quota exceeded (2 MB)", run
    # The server and the next run are fine, once there is room again.
    assert admin.api.delete(f"/workspaces/{ws}/files/fill").status_code == 204
    after = wait_for_run(admin.api, ws, start_run(admin.api, ws, "simple", {"count": 1})["id"])
    assert after["state"] == "succeeded"

    # One file written flat out cannot grow past the room the quota left when the run began.
    push(admin.api, ws, "grows", GROWS)
    run = wait_for_run(admin.api, ws, start_run(admin.api, ws, "grows")["id"], timeout=120)
    assert (run["state"], run["error"]) == ("failed", "workspace disk quota exceeded (2 MB)")
    used = admin.api.get(f"/workspaces/{ws}/usage").json()["files_bytes"]
    assert used <= 1_500_000 + 1024 * 1024, used
    # A run in a workspace already over its quota does not start.
    assert root.api.put(f"/workspaces/{ws}/quota", json={"quota_mb": 1}).status_code == 200
    run = wait_for_run(admin.api, ws, start_run(admin.api, ws, "simple", {"count": 1})["id"])
    assert run["state"] == "failed"
    assert run["error"] == "could not start: workspace disk quota exceeded (1 MB)", run


def test_runs_stop_when_the_servers_disk_is_nearly_full(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "sleepy", SLEEPY)
    push(admin.api, ws, "simple")
    run = start_run(admin.api, ws, "sleepy")
    wait_for_run(admin.api, ws, run["id"], states={"running"})
    # Its code has started (a run is "running" from its claim, before its start checks).
    wait_for_log(admin.api, ws, run["id"], lambda line: line == "going to sleep")
    # More free space asked for than the disk has: as if the disk had just filled up.
    wanted = shutil.disk_usage(world.platform.settings.home).total // (1024 * 1024) + 1
    monkeypatch.setattr(world.platform.settings, "run_min_free_mb", wanted)
    ended = wait_for_run(admin.api, ws, run["id"], timeout=60)
    assert ended["state"] == "failed"
    assert ended["error"].startswith(f"the server's disk is nearly full (less than {wanted} MB"), (
        ended
    )
    # Nor does a new run start until there is room again.
    refused = wait_for_run(admin.api, ws, start_run(admin.api, ws, "simple", {"count": 1})["id"])
    assert refused["error"].startswith("could not start: the server's disk is nearly full")
    monkeypatch.undo()
    again = wait_for_run(admin.api, ws, start_run(admin.api, ws, "simple", {"count": 1})["id"])
    assert again["state"] == "succeeded"
