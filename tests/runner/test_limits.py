"""Resource limits: a run past its limit ends with that reason; the server and the next run
carry on unharmed."""

from __future__ import annotations

import pytest

from joliba.domain.permissions import Role
from tests.conftest import World
from tests.pipeline_helpers import SIMPLE, push, start_run, wait_for_run
from tests.web.page_client import Pages

pytestmark = pytest.mark.usefixtures("needs_sandbox")

GREEDY = """
from joliba import current_run, pipeline

@pipeline(name="Greedy")
def greedy():
    hoard = []
    for _ in range(64):
        hoard.append(bytearray(64 * 1024 * 1024))  # 4 GiB in all, 64 MiB at a time
    current_run.log_info(f"allocated {len(hoard) * 64} MiB")
"""

FORKS = """
import subprocess, sys
from joliba import current_run, pipeline

@pipeline(name="Forks")
def forks():
    children = [
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
        for _ in range(100)
    ]
    current_run.log_info(f"started {len(children)}")
"""

FILLS = """
from joliba import current_run, pipeline, workspace

@pipeline(name="Fills")
def fills():
    with workspace.open("big.bin", "wb") as out:
        for _ in range(8):
            out.write(b"x" * (1024 * 1024))
    current_run.log_info("wrote 8 MiB")
"""

SPINS = """
from joliba import current_run, pipeline

@pipeline(name="Spins")
def spins():
    n = 0
    while True:
        n += 1
"""


def _ends_with_limit(
    world: World, monkeypatch: pytest.MonkeyPatch, source: str, setting: str, value: int
) -> dict[str, object]:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "greedy", source)
    push(admin.api, ws, "simple", SIMPLE)
    monkeypatch.setattr(world.platform.settings, setting, value)
    run = wait_for_run(admin.api, ws, start_run(admin.api, ws, "greedy")["id"], timeout=120)
    monkeypatch.undo()
    # The server answers and the next run of the same workspace succeeds.
    assert world.client().get("/health").status_code == 200
    after = wait_for_run(admin.api, ws, start_run(admin.api, ws, "simple", {"count": 2})["id"])
    assert after["state"] == "succeeded", after
    return run


def test_a_run_past_its_memory_limit_ends_out_of_memory(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _ends_with_limit(world, monkeypatch, GREEDY, "run_memory_mb", 400)
    assert run["state"] == "failed"
    assert run["error"] == "out of memory (limit 400 MB)", run


def test_a_run_past_its_process_limit_ends_with_that_reason(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _ends_with_limit(world, monkeypatch, FORKS, "run_processes", 24)
    assert run["state"] == "failed"
    assert run["error"] == "too many processes or threads (limit 24)", run


def test_a_run_past_its_file_size_limit_ends_with_that_reason(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _ends_with_limit(world, monkeypatch, FILLS, "run_file_mb", 2)
    assert run["state"] == "failed"
    assert run["error"] == "a file grew past the size limit (2 MB)", run


def test_a_run_past_its_cpu_time_ends_with_that_reason(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _ends_with_limit(world, monkeypatch, SPINS, "run_cpu_seconds", 1)
    assert run["state"] == "failed"
    assert run["error"] == "CPU time limit reached (1 s)", run


def test_admins_set_a_pipelines_own_limits(world: World) -> None:
    admin, editor = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, editor, Role.EDITOR)
    push(admin.api, ws, "greedy", GREEDY)
    path = f"/workspaces/{ws}/pipelines/greedy/limits"
    assert editor.api.put(path, json={"memory_mb": 300}).status_code == 403
    too_much = admin.api.put(path, json={"memory_mb": 10**6})
    assert too_much.status_code == 400
    assert "memory_mb: at most 4096" in too_much.json()["error"]["message"]
    set_ = admin.api.put(path, json={"memory_mb": 300, "processes": None})
    assert set_.status_code == 200, set_.text
    assert set_.json()["limits"]["memory_mb"] == 300
    assert set_.json()["limits"]["processes"] is None
    run = wait_for_run(admin.api, ws, start_run(admin.api, ws, "greedy")["id"], timeout=120)
    assert run["error"] == "out of memory (limit 300 MB)", run
    audit = admin.api.get(f"/workspaces/{ws}/audit", params={"action": "pipeline.limits"})
    assert audit.json()["items"][0]["details"] == {"memory_mb": 300}


def test_the_pipeline_page_shows_limits_and_lets_admins_set_them(world: World) -> None:
    admin, editor = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, editor, Role.EDITOR)
    push(admin.api, ws, "simple", SIMPLE)
    with Pages(world.server.url) as pages:
        as_admin = pages.signed_in(admin.email, admin.password)
        page = as_admin.get(f"/w/{ws}/pipelines/simple")
        assert 'name="memory_mb"' in page.text and 'placeholder="4096"' in page.text
        saved = as_admin.post(f"/w/{ws}/pipelines/simple/limits", {"memory_mb": "512"})
        assert saved.status_code == 303 and "Limits+saved" in saved.headers["location"]
        bad = as_admin.post(f"/w/{ws}/pipelines/simple/limits", {"processes": "lots"})
        assert "a+whole+number" in bad.headers["location"]
        as_editor = pages.signed_in(editor.email, editor.password)
        shown = as_editor.get(f"/w/{ws}/pipelines/simple").text
        assert 'name="memory_mb"' not in shown and "<dd>512" in shown
        refused = as_editor.post(f"/w/{ws}/pipelines/simple/limits", {"memory_mb": "1"})
        assert refused.status_code == 403
    limits = admin.api.get(f"/workspaces/{ws}/pipelines/simple").json()["limits"]
    assert limits["memory_mb"] == 512 and limits["processes"] is None


CHATTY = """
import sys
from joliba import current_run, pipeline

@pipeline(name="Chatty")
def chatty():
    for n in range(30_000):  # some 3 MB of output
        print(f"line {n:06d} " + "x" * 90)
        if n % 1000 == 0:
            current_run.log_info(f"sdk line {n}")
    sys.stdout.flush()
    current_run.log_info("finished talking")
"""


def test_a_chatty_run_keeps_only_its_log_limit_and_goes_on(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "chatty", CHATTY)
    monkeypatch.setattr(world.platform.settings, "run_log_mb", 1)
    run = wait_for_run(admin.api, ws, start_run(admin.api, ws, "chatty")["id"], timeout=120)
    assert run["state"] == "succeeded", run  # the run itself is not stopped
    text = admin.api.get(f"/workspaces/{ws}/runs/{run['id']}/logs.txt").text
    assert "log limit reached (1 MB): further lines of this run are dropped" in text
    assert "line 000000" in text and "finished talking" not in text
    assert len(text) < 1.5 * 1024 * 1024, len(text)
