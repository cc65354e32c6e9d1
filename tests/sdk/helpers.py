"""Helpers that run example pipelines in real subprocesses, as the runner and users do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: What every example pipeline imports.
HEADER = (
    "import sys, time, threading\n"
    "from joliba import (pipeline, parameter, task, current_run, workspace, Secret, File,\n"
    "    Dataset, DHIS2Connection, PostgreSQLConnection, S3Connection, CustomConnection)\n"
)


def write_pipeline(folder: Path, body: str, *, header: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    code = textwrap.dedent(body)
    (folder / "pipeline.py").write_text((HEADER if header else "") + code)
    return folder


@dataclass
class EntryResult:
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["event"] == kind]

    def messages(self, level: str | None = None) -> list[str]:
        return [e["message"] for e in self.of("log") if level is None or e["level"] == level]

    def tasks(self, name: str | None = None) -> list[tuple[str, str, int]]:
        return [
            (e["name"], e["state"], e["attempt"])
            for e in self.of("task")
            if name is None or e["name"] == name
        ]


def platform_env(files_path: Path | None, events_fd: int, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "JOLIBA_RUN_ID": "run-42",
        "JOLIBA_WORKSPACE": "malaria-sl",
        "JOLIBA_EVENTS_FD": str(events_fd),
        "JOLIBA_SERVER_URL": "http://127.0.0.1:9",
        "JOLIBA_RUN_TOKEN": "run-token-never-printed",
        "JOLIBA_LOG_LEVEL": "info",
    }
    env.pop("JOLIBA_PARENT_PID", None)
    if files_path is not None:
        env["JOLIBA_FILES_PATH"] = str(files_path)
    env.update(extra)
    return env


def run_entry(
    folder: Path,
    payload: dict[str, Any] | None = None,
    *,
    files_path: Path | None = None,
    close_events: bool = False,
    stdin: bytes | None = None,
    timeout: float = 30,
    **env: str,
) -> EntryResult:
    """Start ``python -m joliba.sdk.entry`` the way the runner does and collect its events."""
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "joliba.sdk.entry"],
        cwd=folder,
        env=platform_env(files_path, write_fd, **env),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(write_fd,),
        start_new_session=True,
    )
    os.close(write_fd)
    chunks: list[bytes] = []

    def drain() -> None:
        with os.fdopen(read_fd, "rb") as reader:
            if close_events:
                return  # the runner went away: the child must carry on without it
            while chunk := reader.read(65536):
                chunks.append(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    data = json.dumps(payload or {}).encode() if stdin is None else stdin
    try:
        out, err = proc.communicate(data, timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout)
    raw = b"".join(chunks)
    assert raw == b"" or raw.endswith(b"\n")
    events = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    return EntryResult(proc.returncode, out.decode(), err.decode(), events)


def run_local(
    folder: Path, *args: str, cwd: Path | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """``python pipeline.py ARGS`` as a user types it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    return subprocess.run(
        [sys.executable, str(folder / "pipeline.py"), *args],
        cwd=cwd or folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_inspect(folder: Path | str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "joliba.sdk.inspect", str(folder)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
