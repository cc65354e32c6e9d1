"""In-process signals to the runner, so queued runs start without polling.

A service that queues a run announces it (``commit_events.RUN_QUEUED``); once the
transaction commits, ``Platform`` calls :meth:`RunSignals.queued` and the runner living in
the same server wakes at once. Other servers find the run on their next poll.
"""

from __future__ import annotations

import threading
import uuid
from typing import Protocol


class RunListener(Protocol):
    def wake(self) -> None: ...

    def cancel(self, run_id: uuid.UUID) -> None: ...


class RunSignals:
    def __init__(self) -> None:
        self._listeners: list[RunListener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: RunListener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def unsubscribe(self, listener: RunListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def queued(self) -> None:
        """Called after a commit that queued runs or changed schedules."""
        for listener in list(self._listeners):
            listener.wake()

    def cancel_requested(self, run_id: uuid.UUID) -> None:
        """Called after a commit that requested a cancel."""
        for listener in list(self._listeners):
            listener.cancel(run_id)
