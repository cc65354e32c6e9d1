"""Keeps followed workspace-database tables in step with their dataset's latest version.

One thread: woken when a dataset version is published (``DATASET_PUBLISHED``) and at least
every minute, it loads the new version into every followed table that is behind
(``services.table_loads.refresh``). A server that was down catches up at its first pass.
"""

from __future__ import annotations

import logging
import threading

from joliba.services import table_loads
from joliba.services.platform import Platform

log = logging.getLogger("joliba.table_loads")
POLL_SECONDS = 60.0


class TableFollower:
    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._loop, name="joliba-table-follower", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self.platform.loads_waiting.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        waiting = self.platform.loads_waiting
        while not self._stopping.is_set():
            waiting.clear()
            try:
                table_loads.refresh(self.platform)
            except Exception:  # the database may be down for a moment: try at the next pass
                log.exception("refreshing followed tables failed")
            waiting.wait(POLL_SECONDS)
