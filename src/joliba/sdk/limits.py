"""Resource limits a sandboxed run sets on itself before any pipeline code is imported.

The runner passes them as JSON in ``JOLIBA_LIMITS``. They are set as both soft and hard
limits (CPU time: the hard one a little later, so that SIGXCPU can say why), so pipeline
code cannot raise them again. Processes are counted inside the run's own
user namespace, so the limit covers this run's processes and threads only.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys

_MB = 1024 * 1024

#: The limit name (as in JOLIBA_LIMITS) and the resource it sets, with the unit's size.
_RESOURCES = {
    "memory_mb": (resource.RLIMIT_AS, _MB),
    "cpu_seconds": (resource.RLIMIT_CPU, 1),
    "processes": (resource.RLIMIT_NPROC, 1),
    "file_mb": (resource.RLIMIT_FSIZE, _MB),
    "open_files": (resource.RLIMIT_NOFILE, 1),
}

#: Printed on stderr when memory runs out; the runner reads it to name the reason.
OUT_OF_MEMORY = "joliba: out of memory"
#: Printed on stderr at the CPU time limit.
OUT_OF_CPU = "joliba: CPU time limit reached"
_CPU_GRACE = 2


def _out_of_cpu(signum: int, frame: object) -> None:
    with contextlib.suppress(OSError):
        os.write(2, OUT_OF_CPU.encode() + b"\n")
    signal.signal(signal.SIGXCPU, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGXCPU)


def apply_from_env() -> dict[str, int]:
    """Set the limits named in ``JOLIBA_LIMITS``; returns what was set."""
    raw = os.environ.pop("JOLIBA_LIMITS", "")
    if not raw:
        return {}
    wanted = json.loads(raw)
    applied: dict[str, int] = {}
    for name, (kind, unit) in _RESOURCES.items():
        value = int(wanted.get(name) or 0)
        if value <= 0:
            continue
        _soft, hard = resource.getrlimit(kind)
        limit = value * unit
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        # CPU time: SIGXCPU at the limit (it says why), SIGKILL a little later if ignored.
        ceiling = limit + _CPU_GRACE if kind == resource.RLIMIT_CPU else limit
        if hard != resource.RLIM_INFINITY:
            ceiling = min(ceiling, hard)
        resource.setrlimit(kind, (limit, ceiling))
        applied[name] = value
    if "cpu_seconds" in applied:
        signal.signal(signal.SIGXCPU, _out_of_cpu)
    # When memory runs out on the machine, the kernel kills runs before the server. A run
    # can lower it again, but not below 0, the server's (docs/install.md: OOMScoreAdjust).
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as handle:
        handle.write("1000")
    nice = int(wanted.get("nice") or 0)
    if nice > 0:
        os.nice(nice)  # raising it back needs a privilege the sandbox does not have
        applied["nice"] = nice
    return applied


def report_out_of_memory(limit_mb: int | None) -> None:
    """Say on stderr that the run ran out of memory (without allocating much)."""
    where = f" (limit {limit_mb} MB)" if limit_mb else ""
    try:
        sys.stderr.write(f"{OUT_OF_MEMORY}{where}\n")
        sys.stderr.flush()
    except (MemoryError, OSError):
        os.write(2, OUT_OF_MEMORY.encode() + b"\n")
