"""Build pipeline folders, push them through the API as a user does, and follow their runs.

``push`` zips a real folder with the CLI's own archive code (so the same files are left out)
and posts it to ``/api/v1/workspaces/{ws}/pipelines/{code}/versions``; the server builds the
version's environment and inspects ``pipeline.py`` for real.
"""

from __future__ import annotations

import io
import tempfile
import textwrap
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from joliba.client.archive import build
from joliba.domain.permissions import Action
from joliba.domain.runs import FINISHED, Trigger
from joliba.services import pipelines, runs, users, workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from tests.fixtures.waiting import eventually

SIMPLE = """
from joliba import current_run, parameter, pipeline

@pipeline(name="Simple")
@parameter("count", type=int, default=1)
def simple(count):
    current_run.log_info(f"count is {count}")
"""

#: Pipelines log and sleep a little: enough to see a run "running" from a test.
LOG_SLEEP_LOG = """
import time
import zipfile
from joliba import current_run, pipeline

@pipeline(name="Log, sleep, log")
def log_sleep_log():
    current_run.log_info("first line")
    time.sleep(2.5)
    current_run.log_info("second line")
"""

SLEEPY = """
import time
import zipfile
from joliba import current_run, pipeline

@pipeline(name="Sleepy")
def sleepy():
    current_run.log_info("going to sleep")
    time.sleep(60)
    current_run.log_info("woke up")
"""


def sleeper_with_child(timeout: int | None = None) -> str:
    """A pipeline that starts a child process, logs ``child <marker>`` and sleeps for 300 s.

    ``child_marker`` finds the child among the host's processes (its pid is the sandbox's).
    """
    options = f", timeout={timeout}" if timeout is not None else ""
    return f"""
import subprocess, sys, time, uuid
from joliba import current_run, pipeline

@pipeline(name="Sleeper"{options})
def sleeper():
    marker = f"sleeper-child-{{uuid.uuid4().hex}}"
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker])
    current_run.log_info(f"child {{marker}}")
    time.sleep(300)
"""


def write_folder(folder: Path, source: str, requirements: str | None = None) -> Path:
    """A pipeline folder: ``pipeline.py`` (dedented) and, if given, ``requirements.txt``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.py").write_text(textwrap.dedent(source).lstrip())
    if requirements is not None:
        (folder / "requirements.txt").write_text(textwrap.dedent(requirements))
    return folder


def zip_folder(folder: Path) -> bytes:
    """The zip ``joliba pipelines push`` would send for ``folder``."""
    with tempfile.TemporaryDirectory(prefix="joliba-test-zip-") as scratch:
        target = Path(scratch) / "pipeline.zip"
        build(folder, target)
        return target.read_bytes()


def push_archive(
    client: httpx.Client, ws: str, code: str, archive: bytes, *, message: str = ""
) -> httpx.Response:
    """POST an archive as a version of pipeline ``code``; the response, whatever it is."""
    return client.post(
        f"/workspaces/{ws}/pipelines/{code}/versions",
        content=archive,
        params={"message": message} if message else {},
        headers={"Content-Type": "application/zip"},
        timeout=300,
    )


def push(
    client: httpx.Client,
    ws: str,
    code: str,
    source: str = SIMPLE,
    requirements: str | None = None,
    *,
    extra: dict[str, str] | None = None,
    message: str = "",
    expect: int = 201,
) -> dict[str, Any]:
    """Push ``source`` (plus ``extra`` files) as the next version of ``code``; the answer.

    ``client`` is an API client with a token (``world.client(token)`` or ``person.api``).
    """
    with tempfile.TemporaryDirectory(prefix="joliba-test-pipeline-") as scratch:
        folder = write_folder(Path(scratch) / code, source, requirements)
        for name, content in (extra or {}).items():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(content)
        response = push_archive(client, ws, code, zip_folder(folder), message=message)
    assert response.status_code == expect, response.text
    return dict(response.json())


def start_run(
    client: httpx.Client, ws: str, code: str, parameters: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = client.post(
        f"/workspaces/{ws}/pipelines/{code}/runs", json={"parameters": parameters or {}}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def wait_for_run(
    client: httpx.Client,
    ws: str,
    run_id: str,
    timeout: float = 60,
    *,
    states: frozenset[str] | set[str] = FINISHED,
) -> dict[str, Any]:
    """Poll the run until it reaches one of ``states`` (default: any ending); its JSON.

    Fails the test after ``timeout`` seconds, and at once if the API does not answer 200.
    """
    seen: dict[str, Any] = {}

    def reached() -> dict[str, Any] | None:
        response = client.get(f"/workspaces/{ws}/runs/{run_id}")
        if response.status_code != 200:
            pytest.fail(f"GET run {run_id}: {response.status_code} {response.text}")
        seen.update(response.json())
        return dict(seen) if seen["state"] in states else None

    return eventually(
        reached,
        timeout=timeout,
        interval=0.1,
        message=lambda: f"run {run_id} not {'/'.join(sorted(states))} in time: {seen}",
    )


def wait_for_log(
    client: httpx.Client,
    ws: str,
    run_id: str,
    found: Callable[[str], bool],
    timeout: float = 60,
) -> str:
    """The first line of the run's log for which ``found`` is true, once there is one."""
    return eventually(
        lambda: next((m for m in log_messages(client, ws, run_id) if found(m)), None),
        timeout=timeout,
        interval=0.1,
        message=lambda: f"run {run_id} logged no such line: {log_messages(client, ws, run_id)}",
    )


def log_messages(client: httpx.Client, ws: str, run_id: str) -> list[str]:
    page = client.get(f"/workspaces/{ws}/runs/{run_id}/logs", params={"limit": 5000}).json()
    return [line["message"] for line in page["items"]]


def zip_files(files: dict[str, str | bytes]) -> bytes:
    """An archive built by hand (for archives the CLI would never make)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            data = content if isinstance(content, bytes) else textwrap.dedent(content)
            archive.writestr(name, data)
    return buffer.getvalue()


def held_run(
    platform: Platform, ws: str, email: str, code: str, values: dict[str, Any] | None = None
) -> str:
    """Queue a run of ``code`` that the runner leaves alone (due tomorrow); its id.

    For tests that need a run to stay queued (cancelling one, showing its parameters).
    """
    with platform.db.transaction() as session:
        user = users.get_by_email(session, email)
        assert user is not None
        actor = Actor(user=user)
        access = workspaces.authorize(session, actor, ws, Action.PIPELINE_RUN)
        version = pipelines.get_version(session, pipelines.get(session, access, code), None)
        run = runs.queue(
            session,
            platform.box,
            version=version,
            values=values or {},
            trigger=Trigger.MANUAL,
            default_timeout=60,
            actor=actor,
            not_before=datetime.now(UTC) + timedelta(days=1),
        )
        return str(run.id)


def host_processes_with(marker: str) -> list[int]:
    """Host process ids whose command line holds ``marker`` (runs' own pids are namespaced)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def child_marker(client: httpx.Client, ws: str, run_id: str, timeout: float = 30) -> str:
    """The marker of the child process of a ``sleeper_with_child`` run, once it is running."""
    line = wait_for_log(
        client,
        ws,
        run_id,
        lambda m: m.startswith("child ") and bool(host_processes_with(m.split()[-1])),
        timeout,
    )
    return line.split()[-1]
