"""`kill -9` of the server during a run: the run ends failed within the lease, its processes
die with the server, and the runs still queued each run exactly once after the restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_demo import free_port
from tests.fixtures.cli import Joliba
from tests.fixtures.servers import wait_until_serving
from tests.fixtures.waiting import eventually
from tests.pipeline_helpers import (
    child_marker,
    host_processes_with,
    log_messages,
    push,
    sleeper_with_child,
    start_run,
    wait_for_run,
)
from tests.wheels import build_wheel

MARKER = """
import os, uuid
from joliba import current_run, pipeline, workspace

@pipeline(name="Marker")
def marker():
    with workspace.open(f"marks/{uuid.uuid4().hex}.txt", "w") as f:
        f.write(current_run.run_id or "")
    current_run.log_info(f"marked; API at {os.environ['JOLIBA_SERVER_URL']}")
"""


@contextmanager
def _server(env: dict[str, str], port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "joliba.cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(f"http://127.0.0.1:{port}/api/v1/health", process=process, log=log)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def test_kill_9_during_a_run_then_restart(
    tmp_path: Path, fresh_database_url: str | None, request: pytest.FixtureRequest
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    env.update(
        JOLIBA_HOME=str(tmp_path / "home"),
        JOLIBA_RUN_LEASE_SECONDS="4",
        JOLIBA_MAX_RUNS="1",
        JOLIBA_PACKAGE_INDEX_URL="none",
        JOLIBA_PACKAGE_FIND_LINKS=str(build_wheel(tmp_path / "wheels").parent),
    )
    if fresh_database_url:
        env["JOLIBA_DATABASE_URL"] = fresh_database_url
    cli = Joliba(env)
    cli("users", "create", "ops@example.org", "--password", "Correct-Horse-9", "--superuser").ok()
    cli("workspaces", "create", "Ops", "--admin", "ops@example.org").ok()
    token = cli("tokens", "create", "ops@example.org").ok().stdout.strip().splitlines()[-1]
    port = free_port()
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    request.addfinalizer(api.close)
    log = tmp_path / "server.log"
    with _server(env, port, log) as first:
        push(api, "ops", "sleeper", sleeper_with_child())
        push(api, "ops", "marker", MARKER)
        sleeping = start_run(api, "ops", "sleeper")["id"]
        wait_for_run(api, "ops", sleeping, states={"running"})
        child = child_marker(api, "ops", sleeping)
        # One run at a time: these wait in the queue behind the sleeper.
        queued = [start_run(api, "ops", "marker")["id"] for _ in range(3)]
        assert all(api.get(f"/workspaces/ops/runs/{r}").json()["state"] == "queued" for r in queued)
        first.kill()  # SIGKILL: no shutdown code runs
        first.wait()
    killed_at = time.monotonic()
    eventually(
        lambda: not host_processes_with(child),
        timeout=10,
        message="the run's processes outlived the server",
    )

    with _server(env, port, log):
        ended = wait_for_run(api, "ops", sleeping, timeout=60)
        assert ended["state"] == "failed"
        assert "lost its executor" in ended["error"]
        assert time.monotonic() - killed_at < 60
        for run_id in queued:
            assert wait_for_run(api, "ops", run_id, timeout=60)["state"] == "succeeded"
        marks = api.get("/workspaces/ops/files", params={"path": "marks"}).json()
        assert marks["total"] == 3  # each queued run ran exactly once
        runs = api.get("/workspaces/ops/pipelines/marker/runs").json()
        assert runs["total"] == 3
        # Without JOLIBA_BASE_URL, runs are given this server's own address, not the default
        # port's (where another server would get their tokens).
        assert f"marked; API at http://127.0.0.1:{port}" in log_messages(api, "ops", queued[0])
