"""Pushing versions and running them through the API, with the real runner and processes."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import select

from joliba.builds.versions import archive_key
from joliba.db.tables import Pipeline
from joliba.domain.permissions import Role
from tests.conftest import World, unique
from tests.fixtures.waiting import eventually
from tests.pipeline_helpers import (
    child_marker,
    host_processes_with,
    log_messages,
    push,
    sleeper_with_child,
    start_run,
    wait_for_run,
    zip_files,
)

TYPED = """
from joliba import Secret, current_run, parameter, pipeline, task, workspace, DHIS2Connection

@pipeline(name="Typed")
@parameter("years", type=int, multiple=True, default=[2024])
@parameter("ratio", type=float, default=0.5)
@parameter("label", type=str, choices=["a", "b"], default="a")
@parameter("token", type=Secret, required=False)
@parameter("source", type=DHIS2Connection, required=False)
def typed(years, ratio, label, token, source):
    current_run.log_info(f"years={years} ratio={ratio} label={label}")
    current_run.log_info(f"token length {len(token or '')}")
    if source is not None:
        current_run.log_info(f"source url {source.url} user {source.username}")
        current_run.log_info(f"password known: {bool(source.password)}")
    print("plain print line")
    flaky()
    with workspace.open("out/result.txt", "w") as f:
        f.write(",".join(map(str, years)))
    current_run.add_file_output("out/result.txt")
    current_run.progress(80, "almost")

ATTEMPTS = []

@task(retries=1, retry_delay=0)
def flaky():
    ATTEMPTS.append(1)
    if len(ATTEMPTS) == 1:
        raise RuntimeError("first attempt fails")
    current_run.log_info(f"flaky succeeded on attempt {len(ATTEMPTS)}")
"""

FAILING = """
from joliba import current_run, pipeline

@pipeline(name="Failing")
def failing():
    current_run.log_info("about to fail")
    raise ValueError("the data is wrong")
"""


def test_push_creates_versions_and_run_succeeds_with_logs_outputs_and_masked_secrets(
    world: World,
) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    connection = admin.api.post(
        f"/workspaces/{ws}/connections",
        json={
            "type": "dhis2",
            "name": "Play",
            "slug": "play",
            "fields": {
                "url": "https://play.example.org",
                "username": "admin",
                "password": "district-S3cret",
            },
        },
    )
    assert connection.status_code == 201, connection.text
    first = push(admin.api, ws, "typed", TYPED, message="first")
    second = push(admin.api, ws, "typed", TYPED, message="second")
    assert (first["number"], second["number"]) == (1, 2)
    assert [p["code"] for p in second["parameters"]] == [
        "years",
        "ratio",
        "label",
        "token",
        "source",
    ]
    assert second["parameters"][0]["multiple"] is True

    run_id = start_run(
        admin.api,
        ws,
        "typed",
        {"years": [2022, 2023], "label": "b", "token": "tok-S3cret", "source": "play"},
    )["id"]
    run = wait_for_run(admin.api, ws, run_id)
    messages = log_messages(admin.api, ws, run_id)
    assert run["state"] == "succeeded", (run, messages)
    assert run["version"] == 2 and run["triggered_by"] == admin.email
    assert run["parameters"]["token"] == "********"
    assert run["parameters"]["years"] == [2022, 2023]
    assert "years=[2022, 2023] ratio=0.5 label=b" in messages
    assert "token length 10" in messages
    assert "source url https://play.example.org user admin" in messages
    assert "password known: True" in messages
    assert "plain print line" in messages
    assert "flaky succeeded on attempt 2" in messages
    assert [(o["kind"], o["uri"]) for o in run["outputs"]] == [("file", "out/result.txt")]
    assert run["progress"] == 100
    body = admin.api.get(f"/workspaces/{ws}/files/out/result.txt")
    assert body.content == b"2022,2023"
    text = admin.api.get(f"/workspaces/{ws}/runs/{run_id}/logs.txt").text
    assert "flaky succeeded" in text and "S3cret" not in text
    assert "S3cret" not in admin.api.get(f"/workspaces/{ws}/runs/{run_id}").text
    search = admin.api.get(
        f"/workspaces/{ws}/runs/{run_id}/logs", params={"search": "FLAKY SUCCEEDED"}
    )
    assert [line["message"] for line in search.json()["items"]] == ["flaky succeeded on attempt 2"]


def test_bad_parameter_values_are_refused_before_a_run_exists(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "typed", TYPED)
    cases = [
        ({"years": ["soon"]}, "years"),
        ({"label": "c"}, "label"),
        ({"ratio": "high"}, "ratio"),
        ({"unknown": 1}, "unknown"),
        ({"source": "nowhere"}, "source"),
    ]
    for values, name in cases:
        response = admin.api.post(
            f"/workspaces/{ws}/pipelines/typed/runs", json={"parameters": values}
        )
        assert response.status_code == 400, response.text
        assert name in response.json()["error"]["message"]
    assert admin.api.get(f"/workspaces/{ws}/runs").json()["total"] == 0


def test_failing_pipeline_fails_with_its_traceback_in_the_logs(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "failing", FAILING)
    run_id = start_run(admin.api, ws, "failing")["id"]
    run = wait_for_run(admin.api, ws, run_id)
    assert run["state"] == "failed" and run["exit_code"] == 1
    messages = "\n".join(log_messages(admin.api, ws, run_id))
    assert "about to fail" in messages
    assert "ValueError: the data is wrong" in messages


def test_pipeline_retries_with_backoff_create_new_attempts(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    source = FAILING.replace(
        '@pipeline(name="Failing")', '@pipeline(name="Failing", retries=2, retry_delay=0.2)'
    )
    push(admin.api, ws, "retried", source)
    first = start_run(admin.api, ws, "retried")["id"]
    wait_for_run(admin.api, ws, first)

    def runs() -> list[dict[str, Any]]:
        return list(admin.api.get(f"/workspaces/{ws}/pipelines/retried/runs").json()["items"])

    def all_three_failed() -> list[dict[str, Any]] | None:
        items = runs()
        return items if len(items) == 3 and all(r["state"] == "failed" for r in items) else None

    items = eventually(all_three_failed, timeout=60, interval=0.2, message=lambda: str(runs()))
    by_attempt = sorted(items, key=lambda r: r["attempt"])
    assert [r["attempt"] for r in by_attempt] == [1, 2, 3]
    assert [r["trigger"] for r in by_attempt] == ["manual", "retry", "retry"]
    assert by_attempt[1]["retry_of"] == by_attempt[0]["id"]
    assert by_attempt[2]["retry_of"] == by_attempt[1]["id"]


def test_cancel_ends_the_whole_process_tree(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "sleeper", sleeper_with_child(timeout=600))
    run_id = start_run(admin.api, ws, "sleeper")["id"]
    child = child_marker(admin.api, ws, run_id)
    assert host_processes_with(child)
    response = admin.api.post(f"/workspaces/{ws}/runs/{run_id}/cancel")
    assert response.status_code == 200, response.text
    # How fast a cancel ends a run is measured by benchmarks/pipelines.py (cancel latency).
    run = wait_for_run(admin.api, ws, run_id, timeout=20)
    assert run["state"] == "cancelled"
    eventually(
        lambda: not host_processes_with(child),
        timeout=5,
        message=f"process {child} outlived its cancelled run",
    )
    again = admin.api.post(f"/workspaces/{ws}/runs/{run_id}/cancel")
    assert again.status_code == 409


def test_timeout_ends_the_run_as_timed_out(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "slow", sleeper_with_child(timeout=2))
    run_id = start_run(admin.api, ws, "slow")["id"]
    child = child_marker(admin.api, ws, run_id)
    run = wait_for_run(admin.api, ws, run_id, timeout=30)
    assert run["state"] == "timed_out", run
    assert "timed out after 2 s" in run["error"]
    eventually(
        lambda: not host_processes_with(child),
        timeout=5,
        message=f"process {child} outlived its timed-out run",
    )


def test_bad_archives_are_refused_and_create_nothing(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    platform = world.platform
    cases = {
        "not a zip": b"plain text",
        "no pipeline.py": zip_files({"main.py": "print(1)"}),
        "escaping path": zip_files({"pipeline.py": "x = 1", "../evil.py": "x"}),
        "syntax error": zip_files({"pipeline.py": "def broken(:\n"}),
        "no pipeline": zip_files({"pipeline.py": "x = 1\n"}),
    }
    for label, body in cases.items():
        code = unique("bad")
        response = admin.api.post(
            f"/workspaces/{ws}/pipelines/{code}/versions",
            content=body,
            headers={"Content-Type": "application/zip"},
        )
        assert response.status_code == 400, (label, response.text)
        assert response.json()["error"]["message"], label
        sha = hashlib.sha256(body).hexdigest()
        assert not platform.store.exists(archive_key(sha)), label
    assert admin.api.get(f"/workspaces/{ws}/pipelines").json()["total"] == 0
    with platform.db.session() as session:
        assert not session.scalars(select(Pipeline).where(Pipeline.code.like("bad%"))).all()


def test_viewer_can_read_but_not_push_or_run(world: World) -> None:
    admin, viewer = world.person(), world.person()
    ws = world.workspace(admin)
    world.add_member(ws, viewer, Role.VIEWER)
    push(admin.api, ws, "simple")
    assert viewer.api.get(f"/workspaces/{ws}/pipelines/simple").status_code == 200
    assert viewer.api.post(f"/workspaces/{ws}/pipelines/simple/runs", json={}).status_code == 403
    push(viewer.api, ws, "simple", expect=403)


USES_PACKAGE = """
import jolibatestpkg
from joliba import current_run, pipeline

@pipeline(name="Uses a package")
def uses():
    current_run.log_info(f"value {jolibatestpkg.VALUE}")
"""


def test_requirements_are_installed_at_push_and_used_by_runs(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    bad = push(
        admin.api,
        ws,
        "uses",
        USES_PACKAGE,
        extra={"requirements.txt": "jolibatestpkg==9.9\n"},
        expect=400,
    )
    assert "requirements.txt could not be installed" in bad["error"]["message"]
    assert "jolibatestpkg" in bad["error"]["message"]
    assert admin.api.get(f"/workspaces/{ws}/pipelines/uses").status_code == 404
    version = push(
        admin.api, ws, "uses", USES_PACKAGE, extra={"requirements.txt": "jolibatestpkg==1.0\n"}
    )
    assert version["requirements_sha256"]
    run_id = start_run(admin.api, ws, "uses")["id"]
    assert wait_for_run(admin.api, ws, run_id)["state"] == "succeeded"
    assert "value 42" in log_messages(admin.api, ws, run_id)


NAPPER = """
import time
from joliba import current_run, pipeline

@pipeline(name="Napper")
def napper():
    current_run.log_info("napping")
    time.sleep(60)
"""


def test_runs_of_one_workspace_wait_for_its_concurrency_limit(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    limit = world.platform.settings.max_runs_per_workspace
    # A run of another workspace, to be queued after this workspace's runs.
    elsewhere = world.workspace(admin)
    push(admin.api, elsewhere, "simple")
    push(admin.api, ws, "napper", NAPPER)
    ids = [start_run(admin.api, ws, "napper")["id"] for _ in range(limit + 1)]

    def current_states() -> list[str]:
        return [admin.api.get(f"/workspaces/{ws}/runs/{i}").json()["state"] for i in ids]

    try:
        eventually(
            lambda: current_states().count("running") == limit,
            message=lambda: str(current_states()),
        )
        # The runner claims due runs oldest first, skipping those of a workspace at its
        # limit: once this later run of another workspace has started, the runner has
        # looked at the queued run of this one and left it queued.
        later = start_run(admin.api, elsewhere, "simple")["id"]
        assert wait_for_run(admin.api, elsewhere, later)["state"] == "succeeded"
        states = current_states()
        assert sorted(states) == ["queued"] + ["running"] * limit
        queued = ids[states.index("queued")]
        running = ids[states.index("running")]
        admin.api.post(f"/workspaces/{ws}/runs/{running}/cancel")
        # A slot of the workspace is free: the queued run starts.
        assert wait_for_run(admin.api, ws, queued, states={"running"}, timeout=20)
    finally:
        for run_id in ids:
            admin.api.post(f"/workspaces/{ws}/runs/{run_id}/cancel")
        for run_id in ids:
            wait_for_run(admin.api, ws, run_id, timeout=30)
