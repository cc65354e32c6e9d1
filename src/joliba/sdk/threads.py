"""The SDK's own background threads, which leave SIGTERM and SIGINT to the main thread.

The kernel hands a signal sent to a process to any of its threads that does not block it,
and Python runs signal handlers only in the main thread, at its next bytecode. A SIGTERM
(a cancelled run) taken by the event writer's thread would so wait until the pipeline's
``time.sleep`` or long C call returns. Threads started here block both signals, and so do
the task pool's threads (:func:`leave_signals_to_main` as their initializer). Where there
are no signal masks (Windows, for local runs), threads start as they are.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import Any

_LEFT_TO_MAIN = {signal.SIGTERM, signal.SIGINT}
_MASKS = hasattr(signal, "pthread_sigmask")


def leave_signals_to_main() -> None:
    """Block SIGTERM and SIGINT in the calling thread (not the main thread)."""
    if _MASKS:
        signal.pthread_sigmask(signal.SIG_BLOCK, _LEFT_TO_MAIN)


def start_daemon(
    target: Callable[..., object], *, name: str, args: tuple[Any, ...] = ()
) -> threading.Thread:
    """Start a daemon thread that never takes SIGTERM or SIGINT."""
    thread = threading.Thread(target=target, name=name, args=args, daemon=True)
    if not _MASKS:
        thread.start()
        return thread
    # A new thread inherits the mask of the thread that starts it: no window without it.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _LEFT_TO_MAIN)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread
