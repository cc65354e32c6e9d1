"""Why a run that hit a resource limit ended, read from how it ended and what it printed.

Limits are set inside the sandbox (:mod:`joliba.sdk.limits`), so the kernel enforces them and
the run sees the failure: an allocation that fails (``MemoryError`` in Python, an abort in
native code), ``fork`` refused, a write that would pass the file size limit, SIGXCPU at the
CPU time limit. The supervisor turns those into one sentence for the run page.
"""

from __future__ import annotations

import signal

from joliba.domain.run_limits import Limits
from joliba.sdk.limits import OUT_OF_CPU, OUT_OF_MEMORY

#: Lines on stderr that mean a limit was reached, by limit.
_MEMORY = (OUT_OF_MEMORY, "MemoryError", "memory allocation of", "std::bad_alloc")
_PROCESSES = (
    "BlockingIOError: [Errno 11]",  # os.fork and subprocess in Python
    "can't start new thread",
    "fork: retry",  # the shell
    "fork: Resource temporarily unavailable",
)
_FILE_SIZE = ("File too large",)


class LimitReasons:
    """Collects the signs of a reached limit while a run prints; names the first one."""

    def __init__(self, limits: Limits, *, file_reason: str | None = None) -> None:
        self.limits = limits
        self._seen: str | None = None
        # The file size limit may be the room left in the workspace's quota: then say so.
        self._file = file_reason or f"a file grew past the size limit ({limits.file_mb} MB)"

    def see(self, line: str) -> None:
        if self._seen is not None:
            return
        if self.limits.memory_mb and any(mark in line for mark in _MEMORY):
            self._seen = f"out of memory (limit {self.limits.memory_mb} MB)"
        elif self.limits.processes and any(mark in line for mark in _PROCESSES):
            self._seen = f"too many processes or threads (limit {self.limits.processes})"
        elif self.limits.file_mb and any(mark in line for mark in _FILE_SIZE):
            self._seen = self._file
        elif self.limits.cpu_seconds and OUT_OF_CPU in line:
            self._seen = f"CPU time limit reached ({self.limits.cpu_seconds} s)"

    def reason(self, exit_code: int | None) -> str | None:
        """The limit the run ended on, or None when it failed for another reason."""
        killed = signal_of(exit_code)
        if killed == signal.SIGXCPU and self.limits.cpu_seconds:
            return f"CPU time limit reached ({self.limits.cpu_seconds} s)"
        if killed == signal.SIGXFSZ and self.limits.file_mb:
            return self._file
        return self._seen


def signal_of(exit_code: int | None) -> signal.Signals | None:
    """The signal that ended a process: a negative code from Popen, or 128 + N from bwrap
    (which exits that way when the sandboxed process dies of signal N)."""
    if exit_code is None:
        return None
    number = -exit_code if exit_code < 0 else exit_code - 128 if exit_code > 128 else 0
    try:
        return signal.Signals(number) if number else None
    except ValueError:
        return None
