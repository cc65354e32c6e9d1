"""``running(...)``: the emulator served on a free port of 127.0.0.1 in a background thread,
for a pipeline's own tests and for scripts (``with running() as url: DHIS2(url, …)``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from joliba.dhis2.emulator.app import create_app

START_SECONDS = 30.0


@contextmanager
def running(**options: Any) -> Iterator[str]:
    """Serve ``create_app(**options)``; yield its URL (``http://127.0.0.1:PORT``); stop after."""
    config = uvicorn.Config(create_app(**options), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dhis2-emulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            raise RuntimeError("the DHIS2 emulator did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
