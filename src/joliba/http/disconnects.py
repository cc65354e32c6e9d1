"""Work that stops when its client goes away: a dataset query whose HTTP client disconnects
is interrupted at once, instead of running on to its time limit for nobody.

The work runs in a worker thread; meanwhile the request's ASGI channel is watched for
``http.disconnect``. When it comes (or the server cancels the request) the work's
:class:`Interrupt` fires, DuckDB stops, the reading's spill folder is removed and the
thread is free again. Used by the API and the pages alike.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

import anyio
from starlette.requests import Request

from joliba.storage.tables import Interrupt

T = TypeVar("T")
GONE = "was stopped: the client went away"
log = logging.getLogger("joliba.datasets")


async def while_connected(request: Request, work: Callable[[Interrupt], T]) -> T:
    """``work(interrupt)`` in a worker thread, its interrupt fired if the client leaves."""
    interrupt = Interrupt()
    finished = False

    async def watch() -> None:
        try:
            while (await request.receive())["type"] != "http.disconnect":
                continue
        except anyio.get_cancelled_exc_class():
            if not finished:  # the server is stopping: do not wait for the query
                interrupt.fire("was stopped: the server is shutting down")
            raise
        interrupt.fire(GONE)
        log.info("query stopped: the client of %s %s went away", request.method, request.url.path)

    failed: Exception | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(watch)
        try:
            result = await anyio.to_thread.run_sync(work, interrupt)
        except Exception as exc:  # raised as it is, not inside the task group's ExceptionGroup
            failed = exc
        finally:
            finished = True
            group.cancel_scope.cancel()
    if failed is not None:
        raise failed
    return result
