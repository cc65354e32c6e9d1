"""Hostile pipelines pushed by an editor of one workspace: every attempt to reach what is not
theirs fails, while their own files, the API and their connections keep working.

Each hostile run tries many things and logs one ``name=outcome`` line per attempt; the test
then checks every outcome. Runs go through the real server, runner and bwrap sandbox.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from joliba.builds import sandbox
from joliba.db.tables import Workspace
from joliba.domain.permissions import Role
from tests.conftest import World
from tests.pipeline_helpers import (
    host_processes_with,
    log_messages,
    push,
    start_run,
    wait_for_run,
)

pytestmark = pytest.mark.usefixtures("needs_sandbox")

HOSTILE = """
import json, os, signal, socket, sqlite3, subprocess, sys, urllib.request
from joliba import current_run, parameter, pipeline, workspace

def attempt(name, action):
    try:
        result = action()
    except Exception as exc:
        result = f"refused {type(exc).__name__}"
    current_run.log_info(f"{name}={result}")

def read(path):
    with open(path, "rb") as handle:
        return f"read {len(handle.read())} bytes"

def write(path):
    with open(path, "w") as handle:
        handle.write("planted")
    return "written"

def api(path):
    request = urllib.request.Request(
        os.environ["JOLIBA_SERVER_URL"] + "/api/v1" + path,
        headers={"Authorization": "Bearer " + os.environ["JOLIBA_RUN_TOKEN"]},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return f"http {response.status}"
    except urllib.error.HTTPError as error:
        return f"http {error.code}"

def http_via_proxy(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return f"http {response.status}"
    except urllib.error.HTTPError as error:
        return f"http {error.code}"

def raw_connect(host, port):
    with socket.create_connection((host, port), timeout=5):
        return "connected"

@pipeline(name="Hostile")
@parameter("targets", type=str)
def hostile(targets):
    t = json.loads(targets)
    attempt("secret_key", lambda: read(t["secret_key"]))
    attempt("home", lambda: str(os.listdir(t["home"])))
    attempt("metadata_sqlite", lambda: read(t["metadata_db"]))
    attempt("other_files", lambda: str(os.listdir(t["other_files"])))
    attempt("other_file", lambda: read(t["other_file"]))
    attempt("write_other", lambda: write(t["other_files"] + "/planted.txt"))
    attempt("write_code", lambda: write("/pipeline/planted.py"))
    attempt("write_sdk", lambda: write(t["sdk"] + "/planted.py"))
    attempt("write_usr", lambda: write("/usr/planted"))
    attempt("server_environ", lambda: read(f"/proc/{t['server_pid']}/environ"))
    attempt("signal_server", lambda: os.kill(t["server_pid"], 0) or "signalled")
    attempt("processes", lambda: str(sorted(int(p) for p in os.listdir("/proc") if p.isdigit())))
    attempt("shadow", lambda: read("/etc/shadow"))
    attempt("passwd", lambda: open("/etc/passwd").read().count("\\n"))
    attempt("uid", lambda: os.getuid())
    attempt("nice", lambda: os.nice(0))
    attempt("renice", lambda: os.nice(-10))
    attempt("oom", lambda: open("/proc/self/oom_score_adj").read().strip())
    attempt("raw_postgres", lambda: raw_connect("127.0.0.1", 5432))
    attempt("proxy_postgres", lambda: http_via_proxy("http://127.0.0.1:5432/"))
    attempt("proxy_private", lambda: http_via_proxy("http://10.255.255.1:80/"))
    attempt("own_api", lambda: api("/workspaces/" + os.environ["JOLIBA_WORKSPACE"] + "/files"))
    attempt("other_api", lambda: api("/workspaces/" + t["other"] + "/files"))
    attempt("own_write", lambda: write(str(workspace.files_path / "own.txt")))
    attempt("tmp_write", lambda: write("/tmp/scratch.txt"))
    # Links for the server to follow later, with its own rights.
    own = str(workspace.files_path)
    attempt("link_key", lambda: os.symlink(t["secret_key"], own + "/leak-key") or "made")
    attempt("link_other", lambda: os.symlink(t["other_files"], own + "/leak-other") or "made")
    attempt("env_keys", lambda: ",".join(sorted(k for k in os.environ if k.startswith("JOLIBA"))))
    subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)", t["marker"]],
        start_new_session=True,
    )
    current_run.log_info("orphan=started")
"""

PEEK_AT_PUSH = """
import os
from joliba import parameter, pipeline

def peek(path):
    try:
        with open(path) as handle:
            return "LEAKED " + handle.read()
    except OSError as exc:
        return "hidden " + type(exc).__name__

SECRET = peek(os.environ.get("PEEK", "") or "{secret}")

@pipeline(name="Peeks at push")
@parameter("leak", type=str, default=SECRET)
def peeks(leak):
    pass
"""


def outcomes(messages: list[str]) -> dict[str, str]:
    found = {}
    for message in messages:
        name, sep, value = message.partition("=")
        if sep and name.isidentifier():
            found[name] = value
    return found


def test_a_hostile_run_reaches_nothing_but_its_own_workspace(world: World) -> None:
    platform = world.platform
    settings = platform.settings
    alpha_admin, beta_admin, editor = world.person(), world.person(), world.person()
    alpha, beta = world.workspace(alpha_admin), world.workspace(beta_admin)
    world.add_member(alpha, editor, Role.EDITOR)
    linelist = b"patient,hiv\n1,positive\n"
    assert beta_admin.api.put(f"/workspaces/{beta}/files/linelist.csv", content=linelist).is_success
    with platform.db.session(write=False) as session:
        beta_id = session.scalar(select(Workspace.id).where(Workspace.slug == beta))
    assert beta_id is not None
    beta_files = Path(platform.store.workspace_files(beta_id).root)
    assert (beta_files / "linelist.csv").read_bytes() == linelist
    import joliba

    marker = f"orphan-{uuid.uuid4().hex}"
    targets = {
        "secret_key": str(settings.home / "secret_key"),
        "home": str(settings.home),
        "metadata_db": str(settings.home / "joliba.db"),
        "other_files": str(beta_files),
        "other_file": str(beta_files / "linelist.csv"),
        "sdk": str(Path(joliba.__file__).parent),
        "server_pid": os.getpid(),
        "other": beta,
        "marker": marker,
    }
    import json

    push(editor.api, alpha, "hostile", HOSTILE)
    run = start_run(editor.api, alpha, "hostile", {"targets": json.dumps(targets)})
    ended = wait_for_run(editor.api, alpha, run["id"], timeout=120)
    messages = log_messages(editor.api, alpha, run["id"])
    assert ended["state"] == "succeeded", (ended, messages)
    seen = outcomes(messages)

    # Nothing of the server's or of beta's is there to read, write or signal.
    for name in ("secret_key", "home", "metadata_sqlite", "other_files", "other_file"):
        assert seen[name] == "refused FileNotFoundError", (name, seen[name])
    assert seen["write_other"] == "refused FileNotFoundError"
    assert seen["server_environ"] == "refused FileNotFoundError"
    assert seen["signal_server"] == "refused ProcessLookupError"
    assert seen["shadow"] == "refused FileNotFoundError"
    for name in ("write_code", "write_sdk", "write_usr"):
        assert seen[name].startswith("refused "), (name, seen[name])
        assert seen[name] != "written"
    # Its own PID namespace: a handful of its own processes, the server is not among them.
    pids = json.loads(seen["processes"])
    assert os.getpid() not in pids and len(pids) < 10, pids
    assert seen["uid"] == str(sandbox.UID)
    # Below the server's CPU priority, for good.
    assert seen["nice"] == "10"
    assert seen["renice"] == "refused PermissionError"
    # The OOM killer's first choice when the machine runs out of memory.
    assert seen["oom"] == "1000"
    assert seen["passwd"] == "2"
    # No way to the server's loopback services; the proxy refuses private addresses.
    assert seen["raw_postgres"].startswith("refused ConnectionRefusedError"), seen["raw_postgres"]
    assert seen["proxy_postgres"] == "http 403"
    assert seen["proxy_private"] == "http 403"
    assert any("network: 127.0.0.1:5432 is a loopback" in m for m in messages), messages
    # What is its own works: the API for its workspace, its files, its /tmp.
    assert seen["own_api"] == "http 200"
    assert seen["other_api"] == "http 404"
    assert seen["own_write"] == "written"
    assert seen["tmp_write"] == "written"
    assert "JOLIBA_HOME" not in seen["env_keys"] and "JOLIBA_DATABASE_URL" not in seen["env_keys"]
    listed = editor.api.get(f"/workspaces/{alpha}/files").json()["items"]
    assert [item["name"] for item in listed] == ["own.txt"]
    # The links it left lead nowhere from the server (tests/api/test_file_links.py has more).
    assert seen["link_key"] == seen["link_other"] == "made"
    for path in ("leak-key", "leak-other/linelist.csv"):
        assert editor.api.get(f"/workspaces/{alpha}/files/{path}").status_code == 404, path
    # Beta's admin sees nothing new in beta; nothing was planted anywhere.
    names = [i["name"] for i in beta_admin.api.get(f"/workspaces/{beta}/files").json()["items"]]
    assert names == ["linelist.csv"]
    assert not (Path(joliba.__file__).parent / "planted.py").exists()
    # The setsid child died with its run.
    assert host_processes_with(marker) == []


def test_reading_parameters_at_push_runs_sandboxed(world: World) -> None:
    editor = world.person()
    ws = world.workspace(editor)
    secret = world.platform.settings.home / "secret_key"
    assert secret.exists()
    version = push(editor.api, ws, "peeks", PEEK_AT_PUSH.replace("{secret}", str(secret)))
    (leak,) = [p for p in version["parameters"] if p["code"] == "leak"]
    assert leak["default"] == "hidden FileNotFoundError"


def test_without_bwrap_nothing_runs_and_admins_see_why(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = world.person(superuser=True)
    ws = world.workspace(admin)
    push(admin.api, ws, "simple")
    monkeypatch.setenv("PATH", "/nonexistent")
    sandbox.bwrap_path.cache_clear()
    try:
        run = start_run(admin.api, ws, "simple", {"count": 1})
        ended = wait_for_run(admin.api, ws, run["id"])
        assert ended["state"] == "failed"
        assert "needs bubblewrap" in ended["error"], ended
        assert "needs bubblewrap" in (sandbox.notice(world.platform.settings) or "")
        # Nor is pipeline.py read at push: the push is refused, saying why, and nothing kept.
        refused = push(admin.api, ws, "simple", expect=503)
        assert "needs bubblewrap" in refused["error"]["message"], refused
        versions = admin.api.get(f"/workspaces/{ws}/pipelines/simple/versions").json()
        assert [v["number"] for v in versions["items"]] == [1]
    finally:
        monkeypatch.undo()
        sandbox.bwrap_path.cache_clear()
    assert sandbox.notice(world.platform.settings) is None


GRANTS = """
import json, os, urllib.request
from joliba import current_run, pipeline

def call(method, path, body):
    request = urllib.request.Request(
        os.environ["JOLIBA_SERVER_URL"] + "/api/v1" + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={
            "Authorization": "Bearer " + os.environ["JOLIBA_RUN_TOKEN"],
            "Content-Type": "application/json",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code

@pipeline(name="Grants")
def grants():
    ws = "/workspaces/" + os.environ["JOLIBA_WORKSPACE"]
    invite = {"email": "accomplice@example.org", "role": "admin"}
    current_run.log_info(f"invite={call('POST', ws + '/invitations', invite)}")
    current_run.log_info(f"token={call('POST', '/me/tokens', {'name': 'kept'})}")
    current_run.log_info(f"upload={call('PUT', ws + '/files/made-by-run', {'x': 1})}")
"""


def test_a_run_token_cannot_grant_lasting_access_and_is_named_in_the_audit(
    world: World,
) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "grants", GRANTS)
    run = wait_for_run(admin.api, ws, start_run(admin.api, ws, "grants")["id"])
    seen = outcomes(log_messages(admin.api, ws, run["id"]))
    assert seen["invite"] == "403"
    assert seen["token"] == "403"
    assert seen["upload"] == "201"
    pending = admin.api.get(f"/workspaces/{ws}/invitations").json()["items"]
    assert pending == []
    entries = admin.api.get(f"/workspaces/{ws}/audit", params={"action": "file."}).json()["items"]
    made = [e for e in entries if e["target"] == "made-by-run"]
    assert made and made[0]["details"]["run_id"] == run["id"], entries
    assert made[0]["actor_email"] == admin.email
