"""Pipeline archives for tests: zip a pipeline's files in memory and push them."""

from __future__ import annotations

import io
import textwrap
import time
import zipfile
from typing import Any

import httpx

SIMPLE = """
from joliba import current_run, parameter, pipeline

@pipeline(name="Simple")
@parameter("count", type=int, default=1)
def simple(count):
    current_run.log_info(f"count is {count}")
"""


def zip_files(files: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            data = content if isinstance(content, bytes) else textwrap.dedent(content)
            archive.writestr(name, data)
    return buffer.getvalue()


def push(
    api: httpx.Client,
    ws: str,
    code: str,
    source: str = SIMPLE,
    *,
    extra: dict[str, str | bytes] | None = None,
    message: str = "",
    expect: int = 201,
) -> dict[str, Any]:
    body = zip_files({"pipeline.py": source, **(extra or {})})
    response = api.post(
        f"/workspaces/{ws}/pipelines/{code}/versions",
        content=body,
        params={"message": message},
        headers={"Content-Type": "application/zip"},
        timeout=300,
    )
    assert response.status_code == expect, response.text
    return dict(response.json())


FINISHED = {"succeeded", "failed", "cancelled", "timed_out", "skipped"}


def wait_for_run(
    api: httpx.Client, ws: str, run_id: str, *, timeout: float = 60, states: set[str] = FINISHED
) -> dict[str, Any]:
    """Poll until the run reaches one of ``states``; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        run = api.get(f"/workspaces/{ws}/runs/{run_id}").json()
        if run["state"] in states:
            return dict(run)
        assert time.monotonic() < deadline, f"run still {run['state']} after {timeout} s: {run}"
        time.sleep(0.1)


def start_run(
    api: httpx.Client, ws: str, code: str, parameters: dict[str, Any] | None = None
) -> str:
    response = api.post(
        f"/workspaces/{ws}/pipelines/{code}/runs", json={"parameters": parameters or {}}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def log_messages(api: httpx.Client, ws: str, run_id: str) -> list[str]:
    page = api.get(f"/workspaces/{ws}/runs/{run_id}/logs", params={"limit": 5000}).json()
    return [line["message"] for line in page["items"]]
