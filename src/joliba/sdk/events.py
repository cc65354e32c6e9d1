"""Run events (logs, progress, outputs, task states) and the thread that writes them out.

``current_run`` calls must never wait on I/O, so events go into a queue; one daemon thread
drains it in batches to a sink: the runner's pipe (JSON lines) on the platform, the terminal
locally. :meth:`EventWriter.flush` waits until everything queued so far is written.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import sys
import threading
import time
from typing import Protocol, assert_never

from joliba.domain import wire
from joliba.domain.wire import Event, LogLevel, OutputKind, TaskState
from joliba.sdk.threads import start_daemon

#: The numeric weight of each level a log event may have (``wire.LOG_LEVELS``).
LEVELS: dict[str, int] = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_FLUSH_TIMEOUT = 10.0


def now_iso() -> str:
    """The current UTC time in ISO 8601 (``2024-05-01T10:00:00.123456+00:00``).

    Built with ``time`` rather than ``datetime`` to keep ``import joliba`` light.
    """
    now = time.time()
    micro = int(now % 1 * 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{micro:06d}+00:00"


def parse_level(text: str | None, default: str = "info") -> int:
    return LEVELS.get((text or default).strip().lower(), LEVELS[default])


class Sink(Protocol):
    #: True when writing to the terminal: tracebacks are then already in the log lines.
    terminal: bool

    def write(self, events: list[Event]) -> None: ...


class FdSink:
    """JSON lines to an inherited file descriptor; once it is closed, events are dropped."""

    terminal = False

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False

    def write(self, events: list[Event]) -> None:
        if self.closed:
            return
        data = b"".join(
            json.dumps(e, ensure_ascii=False, default=str).encode() + b"\n" for e in events
        )
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:  # the runner went away (EPIPE, EBADF): a run must not crash on it
            self.closed = True


class TerminalSink:
    """``HH:MM:SS LEVEL message`` lines on stderr, for local runs."""

    terminal = True

    def __init__(self, level: int = LEVELS["info"]) -> None:
        self.level = level

    def write(self, events: list[Event]) -> None:
        lines = [line for e in events if (line := self._line(e)) is not None]
        if not lines:
            return
        try:
            sys.stderr.write("".join(lines))
            sys.stderr.flush()
        except (OSError, ValueError):  # stderr closed
            pass

    def _line(self, event: Event) -> str | None:
        level = "info"
        if event["event"] == wire.LOG:
            level, text = event["level"], str(event["message"])
        elif event["event"] == wire.PROGRESS:
            message = event.get("message")
            text = f"progress {event['percent']}%" + (f": {message}" if message else "")
        elif event["event"] == wire.OUTPUT:
            text = f"output added ({event['kind']}): {event['uri']}"
        elif event["event"] == wire.TASK:
            # Retries and failures are logged as warnings and errors already.
            level = "debug"
            text = f"task '{event['name']}' {event['state']} (attempt {event['attempt']})"
        else:
            assert_never(event)
        if LEVELS.get(level, 20) < self.level:
            return None
        from datetime import datetime  # local mode only

        at = datetime.fromisoformat(event["at"]).astimezone().strftime("%H:%M:%S")
        return f"{at} {level.upper()} {text}\n"


class EventWriter:
    """A queue drained by a daemon thread into a :class:`Sink`."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self._queue: queue.SimpleQueue[Event | threading.Event] = queue.SimpleQueue()
        self._thread = start_daemon(self._drain, name="joliba-events")
        atexit.register(self.flush)

    # One method per kind of event (:data:`joliba.domain.wire.Event`).

    def log(self, level: LogLevel, message: str) -> None:
        self.emit(wire.LogEvent(event=wire.LOG, level=level, message=message, at=now_iso()))

    def progress(self, percent: int, message: str | None) -> None:
        self.emit(
            wire.ProgressEvent(event=wire.PROGRESS, percent=percent, message=message, at=now_iso())
        )

    def output(self, kind: OutputKind, uri: str, name: str) -> None:
        self.emit(wire.OutputEvent(event=wire.OUTPUT, kind=kind, uri=uri, name=name, at=now_iso()))

    def task(self, name: str, state: TaskState, attempt: int, id: int) -> None:
        self.emit(
            wire.TaskEvent(
                event=wire.TASK, name=name, state=state, attempt=attempt, id=id, at=now_iso()
            )
        )

    def emit(self, event: Event) -> None:
        self._queue.put(event)

    def flush(self, timeout: float = _FLUSH_TIMEOUT) -> None:
        """Wait until every event queued before this call has been written."""
        if not self._thread.is_alive():
            return
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _drain(self) -> None:
        while True:
            batch = [self._queue.get()]
            while True:  # take whatever else is waiting: one write per batch
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            events = [item for item in batch if isinstance(item, dict)]
            if events:
                with contextlib.suppress(Exception):  # a broken sink must never stop the run
                    self.sink.write(events)
            for item in batch:
                if isinstance(item, threading.Event):
                    item.set()
