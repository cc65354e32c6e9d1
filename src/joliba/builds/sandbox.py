"""The sandbox every execution of pipeline code runs in: bubblewrap namespaces and limits.

Pipeline code is untrusted. It runs under ``bwrap`` (Debian's ``bubblewrap``) in new user,
mount, PID, network, IPC and UTS namespaces, with every capability dropped and
``no_new_privs`` set. Its file system is built from nothing: the system's runtime and the
Python installations read-only, the version's code read-only at ``/pipeline``, its own
workspace's files read-write at ``/workspace/files``, its workspace database folder at
``/workspace/database`` and a private ``/tmp``. ``JOLIBA_HOME``, the metadata database, other
workspaces and the server's processes are simply not there. When the sandbox's first
process ends, the kernel kills everything else in its PID namespace, so nothing outlives a run.

The network namespace has only a loopback interface; a run reaches the outside through the
run proxy (:mod:`joliba.runner.run_network`), whose Unix socket is mounted at
``/run/joliba``. Reading a pushed version's parameters gets no network at all.

Limits (memory, CPU time, processes, file size, open files) are set as resource limits inside
the sandbox by :mod:`joliba.sdk.limits` before any pipeline code is imported, with a lower
CPU priority than the server's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from joliba.domain.errors import Unavailable
from joliba.settings import Settings

#: Paths inside the sandbox.
CODE = Path("/pipeline")
FILES = Path("/workspace/files")
DATABASE = Path("/workspace/database")
TMP = Path("/tmp")  # noqa: S108 (the sandbox's own private /tmp)
NETWORK = Path("/run/joliba")

#: The sandbox's user: unprivileged, alone in its user namespace.
UID = 1000
GID = 1000
USER = "joliba-run"

#: Top-level system folders the runtime needs (read-only; symbolic links are kept as links).
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
#: The few files of /etc that programs need; the rest of /etc (keys, passwords) stays out.
_ETC = (
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "fonts",
    "gai.conf",
    "host.conf",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "mime.types",
    "nsswitch.conf",
    "pki",
    "protocols",
    "services",
    "ssl",
    "timezone",
)


class SandboxUnavailable(Unavailable):
    """The sandbox cannot be set up here; pipeline code must not run (a push answers 503
    with the reason, a run fails with it)."""


@dataclass
class Mounts:
    """What one execution sees, by path inside the sandbox."""

    code: Path
    scratch: Path
    files: Path | None = None
    database: Path | None = None
    network: Path | None = None
    readonly: list[Path] = field(default_factory=list)


@cache
def bwrap_path() -> str | None:
    return shutil.which("bwrap")


@cache
def _probe(bwrap: str) -> str | None:
    """Why namespaces cannot be made here (None when they can)."""
    try:
        result = subprocess.run(  # noqa: S603 (a fixed program and arguments)
            [bwrap, *_NAMESPACES, "--ro-bind", "/", "/", "--proc", "/proc", "true"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start: {exc}"
    if result.returncode != 0:
        return f"bwrap cannot create namespaces here: {result.stderr.strip()[-500:]}"
    return None


_NAMESPACES = (
    "--unshare-user",
    "--unshare-pid",
    "--unshare-net",
    "--unshare-ipc",
    "--unshare-uts",
    "--unshare-cgroup-try",
)


def runtime_paths() -> list[Path]:
    """The Python installations and the Joliba code a run needs, read-only."""
    import joliba

    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(sysconfig.get_paths()["purelib"])}
    package = Path(joliba.__file__).resolve().parent
    paths.add(package.parent)  # an editable install: the src/ folder only, not the checkout
    ordered: list[Path] = []
    for path in sorted(p.resolve() for p in paths):
        if not any(path.is_relative_to(kept) for kept in ordered):
            ordered.append(path)
    return ordered


class Sandbox:
    """Builds the command line that runs pipeline code in its sandbox."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.sandbox == "on"
        self.home = settings.home.resolve()

    def problem(self) -> str | None:
        """Why pipeline code cannot run here, or None; a disabled sandbox is no problem."""
        if not self.enabled:
            return None
        bwrap = bwrap_path()
        if bwrap is None:
            return (
                "the run sandbox needs bubblewrap (the 'bwrap' program; Debian/Ubuntu package "
                "'bubblewrap'), which is not installed; see docs/security.md"
            )
        return _probe(bwrap)

    def check(self) -> None:
        problem = self.problem()
        if problem is not None:
            raise SandboxUnavailable(problem)

    def command(self, argv: list[str], mounts: Mounts, *, python_env: Path | None) -> list[str]:
        """``argv`` wrapped in bwrap; ``argv[0]`` is a path that the mounts make visible."""
        self.check()
        bwrap = bwrap_path()
        assert bwrap is not None
        readonly = [*runtime_paths(), *mounts.readonly]
        if python_env is not None:
            readonly.append(python_env.resolve())
        for path in readonly:
            if self.home.is_relative_to(path):
                raise SandboxUnavailable(
                    f"JOLIBA_HOME ({self.home}) is inside {path}, which runs must see; "
                    "move JOLIBA_HOME out of the Python installation and the Joliba code"
                )
        args = [bwrap, *_NAMESPACES, "--die-with-parent", "--cap-drop", "ALL"]
        args += ["--uid", str(UID), "--gid", str(GID), "--hostname", "joliba-run"]
        for top in _SYSTEM:
            path = Path(top)
            if path.is_symlink():
                args += ["--symlink", os.readlink(path), top]
            elif path.is_dir():
                args += ["--ro-bind", top, top]
        for name in _ETC:
            if os.path.lexists(f"/etc/{name}"):
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        identity = _identity_files(mounts.scratch.absolute())
        args += ["--ro-bind", str(identity / "passwd"), "/etc/passwd"]
        args += ["--ro-bind", str(identity / "group"), "/etc/group"]
        args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/run"]
        tmp = mounts.scratch.absolute() / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        # The private /tmp first: read-only paths below /tmp must stay visible over it.
        args += ["--bind", str(tmp), str(TMP)]
        for path in readonly:
            args += ["--ro-bind", str(path), str(path)]
        args += ["--ro-bind", str(mounts.code.absolute()), str(CODE)]
        if mounts.files is not None:
            args += ["--bind", str(mounts.files.absolute()), str(FILES)]
        if mounts.database is not None:
            args += ["--bind", str(mounts.database.absolute()), str(DATABASE)]
        if mounts.network is not None:
            args += ["--ro-bind", str(mounts.network.absolute()), str(NETWORK)]
        args += ["--chdir", str(CODE), "--"]
        return [*args, *argv]


def notice(settings: Settings) -> str | None:
    """What instance admins must know about the sandbox, or None when all is well."""
    if settings.sandbox == "off":
        return (
            "The run sandbox is off (JOLIBA_SANDBOX=off): pipeline code runs as a plain "
            "process of the server and can read its secrets, its database and every "
            "workspace. Turn it back on unless every pipeline author is trusted."
        )
    problem = Sandbox(settings).problem()
    if problem:
        return f"Pipelines cannot run: {problem}."
    from joliba.builds import process_group

    if settings.run_processes and process_group.needed() and not process_group.available():
        return (
            "Joliba runs as root and cannot make a pids cgroup here, so the limit on a run's "
            "processes (JOLIBA_RUN_PROCESSES) is not enforced: run Joliba as an unprivileged "
            "user (see docs/security.md)."
        )
    return None


def _identity_files(scratch: Path) -> Path:
    """A passwd and group naming only the sandbox's user (the host's stay out)."""
    folder = scratch / "etc"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "passwd").write_text(
        f"{USER}:x:{UID}:{GID}:Joliba pipeline run:{TMP}:/usr/sbin/nologin\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
    )
    (folder / "group").write_text(f"{USER}:x:{GID}:\nnogroup:x:65534:\n")
    return folder
