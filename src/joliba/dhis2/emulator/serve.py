"""The emulator served on 127.0.0.1 from a background thread of this process: ``running(...)``
for a pipeline's own tests and for scripts (``with running() as url: DHIS2(url, …)``), and
:class:`Background` for ``joliba demo``, which keeps it up beside the server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from joliba.dhis2.emulator.app import create_app

START_SECONDS = 30.0


class Background:
    """uvicorn serving an ASGI app on 127.0.0.1 (``port`` 0: any free port) in a thread."""

    def __init__(self, app: Any, port: int = 0, *, name: str = "dhis2-emulator") -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")
        self.server = uvicorn.Server(config)
        # A daemon: should stop() be skipped, the process still exits.
        self.thread = threading.Thread(target=self.server.run, name=name, daemon=True)
        self.url = ""

    def start(self) -> bool:
        """Whether it is serving (False: the port was taken, or it failed to start)."""
        self.thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                return False
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return True

    def stop(self) -> None:
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(timeout=10)


@contextmanager
def running(**options: Any) -> Iterator[str]:
    """Serve ``create_app(**options)`` on a free port; yield its URL; stop after."""
    server = Background(create_app(**options))
    if not server.start():
        raise RuntimeError("the DHIS2 emulator did not start")
    try:
        yield server.url
    finally:
        server.stop()
