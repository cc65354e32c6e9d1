"""``python -m joliba.sdk.entry``: how the platform's runner runs a pipeline.

The contract with the runner:

- working directory: the version's code folder, holding ``pipeline.py``;
- environment: ``JOLIBA_RUN_ID``, ``JOLIBA_WORKSPACE``, ``JOLIBA_FILES_PATH`` (optional),
  ``JOLIBA_EVENTS_FD`` (an inherited descriptor open for writing), ``JOLIBA_SERVER_URL``,
  ``JOLIBA_RUN_TOKEN``, ``JOLIBA_LOG_LEVEL`` (default info), ``JOLIBA_PARENT_PID`` (optional);
- stdin: one JSON object ``{"parameters": {...}, "connections": {slug: {"type", "name",
  "fields"}}, "database_url": str | null, "endpoints": [{"slug", "host", "port", "database"?}]}``,
  then EOF (an endpoint with ``"database": true`` is the workspace's PostgreSQL database);
- in the sandbox: ``JOLIBA_LIMITS`` (resource limits, set before any pipeline code is
  imported) and ``JOLIBA_NET_SOCKET`` (the run proxy's socket: web requests go through it,
  and each endpoint's connection is given a local port that leads to it);
- events: JSON lines on the events descriptor (see :mod:`joliba.sdk.events`);
- exit status 0 on success, 1 on failure with the traceback on stderr.

The process watches its parent and kills its own process group if the parent dies, so a
crashed server leaves no orphaned runs behind. On SIGTERM it writes out the events queued so
far and then dies of the signal.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from joliba.domain.errors import Invalid
from joliba.domain.parameters import validate_values
from joliba.sdk import limits, relay
from joliba.sdk.context import RunContext, activate
from joliba.sdk.events import EventWriter, FdSink, Sink, TerminalSink, parse_level
from joliba.sdk.loader import LoadError, load_pipeline
from joliba.sdk.parameters import bind_values
from joliba.sdk.pipeline import report_failure
from joliba.sdk.threads import start_daemon

WATCH_INTERVAL = 0.5


def watch_parent(interval: float = WATCH_INTERVAL) -> threading.Thread:
    """Kill this run's process group as soon as the parent process is gone."""
    expected = os.getppid()
    given = os.environ.get("JOLIBA_PARENT_PID", "")
    if given.isdigit():
        expected = int(given)  # set by the runner: closes the race with an early parent death

    def watch() -> None:
        while True:
            if os.getppid() != expected:
                # Only a group leader (the runner starts a new session) may kill its group;
                # otherwise the group could hold processes that are not this run's.
                if os.getpgrp() == os.getpid():
                    os.killpg(0, signal.SIGKILL)
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(interval)

    return start_daemon(watch, name="joliba-parent-watch")


def main() -> int:
    applied = limits.apply_from_env()
    watch_parent()
    env = os.environ
    level = parse_level(env.get("JOLIBA_LOG_LEVEL"))
    sink: Sink = TerminalSink(level)
    fd_text = env.get("JOLIBA_EVENTS_FD", "")
    if fd_text:
        if not fd_text.isdigit():
            sys.stderr.write(f"error: JOLIBA_EVENTS_FD must be a file descriptor: {fd_text!r}\n")
            return 1
        fd = int(fd_text)
        with contextlib.suppress(OSError):  # the user's subprocesses must not hold the pipe
            os.set_inheritable(fd, False)
        sink = FdSink(fd)
    files_path = env.get("JOLIBA_FILES_PATH")
    context = RunContext(
        events=EventWriter(sink),
        mode="platform",
        run_id=env.get("JOLIBA_RUN_ID"),
        workspace_slug=env.get("JOLIBA_WORKSPACE", ""),
        files_path=os.path.abspath(files_path) if files_path else None,
        log_level=level,
        server_url=env.get("JOLIBA_SERVER_URL"),
        token=env.get("JOLIBA_RUN_TOKEN"),
    )
    activate(context)  # before the import: module-level current_run calls are this run's
    _on_sigterm(context)
    try:
        payload = _read_payload()
        context.connections = payload["connections"]
        if env.get("JOLIBA_NET_SOCKET"):
            _relay_network(env["JOLIBA_NET_SOCKET"], payload)
        context.database_url = payload["database_url"]
        pipeline = load_pipeline(os.getcwd())
        values = validate_values(pipeline.parameters, payload["parameters"])
        bound = bind_values(pipeline.parameters, values, context)
    except (LoadError, Invalid, PayloadError) as exc:  # clear messages: no traceback needed
        context.log("error", f"the pipeline could not start: {exc}")
        context.events.flush()
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except Exception as exc:  # the user's module failed to import: its traceback helps
        report_failure(context, "the pipeline could not start", exc)
        context.events.flush()
        return 1
    try:
        return 0 if pipeline.execute(context, bound) else 1
    except MemoryError:
        limits.report_out_of_memory(applied.get("memory_mb"))
        return 1


def _relay_network(socket_path: str, payload: dict[str, Any]) -> None:
    """Start the relays to the run proxy; connections to TCP endpoints use local ports."""
    endpoints = payload["endpoints"]
    ports = relay.start(socket_path, [(e["host"], e["port"]) for e in endpoints])
    for endpoint in endpoints:
        port = ports[(endpoint["host"], endpoint["port"])]
        if endpoint.get("database") and payload["database_url"]:
            # The workspace's PostgreSQL database: the same URL, through the local port.
            parts = urlsplit(payload["database_url"])
            credentials = parts.netloc.rpartition("@")[0]
            netloc = f"{credentials}@127.0.0.1:{port}" if credentials else f"127.0.0.1:{port}"
            payload["database_url"] = urlunsplit(parts._replace(netloc=netloc))
            continue
        connection = payload["connections"].get(endpoint["slug"])
        if connection is not None:
            connection["fields"]["host"] = "127.0.0.1"
            connection["fields"]["port"] = str(port)


def _on_sigterm(context: RunContext) -> None:
    """On SIGTERM (a cancelled run), deliver the events so far, then die of the signal."""

    def stop(signum: int, frame: object) -> None:
        context.log("warning", "the run received SIGTERM and stops")
        context.events.flush(timeout=2)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)


class PayloadError(Exception):
    """What the runner wrote on stdin is not the expected JSON object."""


def _read_payload() -> dict[str, Any]:
    raw = sys.stdin.buffer.read() if sys.stdin is not None else b""
    try:
        data = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise PayloadError(f"stdin: not valid JSON ({exc})") from None
    if not isinstance(data, Mapping):
        raise PayloadError("stdin: expected a JSON object")
    parameters = data.get("parameters") or {}
    connections = data.get("connections") or {}
    database_url = data.get("database_url")
    if not isinstance(parameters, Mapping) or not isinstance(connections, Mapping):
        raise PayloadError("stdin: parameters and connections must be JSON objects")
    if database_url is not None and not isinstance(database_url, str):
        raise PayloadError("stdin: database_url must be a string or null")
    endpoints = data.get("endpoints") or []
    if not isinstance(endpoints, list) or not all(
        isinstance(e, Mapping) and isinstance(e.get("host"), str) and isinstance(e.get("port"), int)
        for e in endpoints
    ):
        raise PayloadError("stdin: endpoints must be a list of {slug, host, port}")
    return {
        "parameters": parameters,
        "connections": connections,
        "database_url": database_url,
        "endpoints": endpoints,
    }


if __name__ == "__main__":
    sys.exit(main())
