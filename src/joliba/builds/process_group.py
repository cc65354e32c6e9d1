"""A process-count limit for runs of a server that runs as root.

The kernel never applies ``RLIMIT_NPROC`` to root's processes, and a sandbox's user maps to
the server's own user, so a root server needs a ``pids`` cgroup per run instead. Joliba makes
one in the cgroup v1 ``pids`` hierarchy when it can write there; on a cgroup v2 system it
cannot make one without a delegated subtree, and instance admins are told that the process
limit is not enforced (run Joliba as an unprivileged user, as docs/install.md says).

The run's first process waits on a pipe (:data:`GATE`) until it has been moved into the
group, so that nothing it starts escapes the count.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

_V1_ROOT = Path("/sys/fs/cgroup/pids")
_FOLDER = "joliba-runs"

#: ``GATE + [FD, PROGRAM, ARGS…]``: wait until FD gives a byte or ends, close it, then exec
#: PROGRAM. bash, because it starts in 3 ms where Python takes 10 or more (run latency), and
#: unlike dash it reads a descriptor above 9.
GATE = ("/bin/bash", "-c", 'read -r -u "$0" _; eval "exec $0<&-"; exec "$@"')


def needed() -> bool:
    """Whether resource limits alone cannot bound a run's processes here."""
    return os.geteuid() == 0


def _own_v1_folder() -> Path | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if "pids" in controllers.split(","):
            return _V1_ROOT / path.lstrip("/")
    return None


def available() -> bool:
    """Whether a per-run pids group can be made here."""
    folder = _own_v1_folder()
    return folder is not None and os.access(folder, os.W_OK)


@dataclass
class ProcessGroup:
    path: Path
    limit: int

    @classmethod
    def create(cls, name: str, limit: int) -> ProcessGroup | None:
        """A new group limited to ``limit`` processes, or None where none can be made."""
        base = _own_v1_folder()
        if base is None or limit <= 0:
            return None
        group = cls(base / _FOLDER / name, limit)
        try:
            group._make()
        except OSError:
            return None
        return group

    def _make(self) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "pids.max").write_text(str(self.limit))

    def add(self, pid: int) -> None:
        try:
            (self.path / "cgroup.procs").write_text(str(pid))
        except FileNotFoundError:
            # Another server on this machine swept it while it was still empty: make it again.
            self._make()
            (self.path / "cgroup.procs").write_text(str(pid))

    def remove(self, patience: float = 5.0) -> None:
        """Kill what is left in the group, then remove it once the kernel has reaped it."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return  # left for the next sweep
            for pid in self._pids():
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)

    def _pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.path / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            return []


#: Groups younger than this are left alone by a sweep: another server on the machine may
#: have just made one for a run it is starting.
_SWEEP_AGE = 60.0


def sweep() -> None:
    """Remove the empty groups that runs of a crashed server left behind."""
    base = _own_v1_folder()
    if base is None or not (base / _FOLDER).is_dir():
        return
    for path in (base / _FOLDER).iterdir():
        with contextlib.suppress(OSError):
            if path.is_dir() and time.time() - path.stat().st_mtime > _SWEEP_AGE:
                path.rmdir()
