"""A background pass that runs at least every so often, and at once when woken."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable


class WokenLoop:
    """One daemon thread calling ``work`` every ``seconds`` and whenever ``waiting`` is set.

    A failing pass is logged and the next one tries again (the database or the remote side
    may be down for a moment)."""

    def __init__(
        self,
        name: str,
        work: Callable[[], object],
        waiting: threading.Event,
        *,
        seconds: float,
        log: logging.Logger,
    ) -> None:
        self.name = name
        self.work = work
        self.waiting = waiting
        self.seconds = seconds
        self.log = log
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self.waiting.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.waiting.clear()
            try:
                self.work()
            except Exception:
                self.log.exception("%s: pass failed", self.name)
            self.waiting.wait(self.seconds)
