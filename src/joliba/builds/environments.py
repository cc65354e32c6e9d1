"""Python environments for pipeline versions, built once with uv and shared by content.

A version without requirements runs on the server's own interpreter. One with a
requirements.txt gets a virtual environment keyed by the requirements' hash (and the
interpreter's version), built when the version is pushed and reused by every run of every
version with the same requirements. The server's own packages (the Joliba SDK and its
libraries) are visible after the environment's own, so a pipeline's pins win.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path

from joliba.domain.errors import Invalid
from joliba.domain.requirements import check_requirements

_BUILD_TIMEOUT = 1800
_MAX_MESSAGE = 4000


@dataclass(frozen=True)
class Environment:
    key: str
    python: Path


def clean_env(**extra: str) -> dict[str, str]:
    """What a child process may inherit: no JOLIBA_* settings, database URLs or keys.

    No bytecode is written: a run's own modules compile in memory, and everything shared
    (the SDK, environments, version code) is compiled by the server when it is prepared, so
    no run can plant bytecode that another run would load.
    """
    keep = ("PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "HOME", "SYSTEMROOT")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


#: Added to an install failure that a missing wheel may explain.
WHEELS_ONLY = (
    "Joliba installs packages as wheels only and never builds one from source (a build runs "
    "the package's own code on the server); pick a version published with a wheel for this "
    "platform."
)


def sandbox_env(environment: Environment, **extra: str) -> dict[str, str]:
    """The whole environment of a sandboxed process: fixed values, nothing inherited."""
    env = {
        "PATH": f"{environment.python.parent}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": "/tmp",  # noqa: S108 (the sandbox's private /tmp)
        "TMPDIR": "/tmp",  # noqa: S108
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if "TZ" in os.environ:
        env["TZ"] = os.environ["TZ"]
    env.update(extra)
    return env


#: What a package download needs from the server's environment: its certificate authorities
#: (a ministry's proxy may sign with its own) and its proxies; uv's cache folder.
_DOWNLOAD_ENV = (
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "UV_CACHE_DIR",
    "XDG_CACHE_HOME",
)


def download_env() -> dict[str, str]:
    """The environment of a package install: :func:`clean_env` and what downloads need."""
    env = clean_env(UV_NO_PROGRESS="1")
    env.update({k: os.environ[k] for k in _DOWNLOAD_ENV if k in os.environ})
    return env


def index_args(index_url: str | None, find_links: str | None) -> list[str]:
    """uv's arguments for the package index settings (``none``: only the find-links)."""
    args = ["--no-config"]
    if index_url == "none":
        args.append("--no-index")
    elif index_url:
        args += ["--default-index", index_url]
    if find_links:
        args += ["--find-links", find_links]
    return args


def uv_program() -> str:
    from uv import find_uv_bin

    return str(find_uv_bin())


class Environments:
    def __init__(
        self, root: Path, *, index_url: str | None = None, find_links: str | None = None
    ) -> None:
        self.root = root
        self.index_url = index_url
        self.find_links = find_links
        self.base = Environment(key="", python=Path(sys.executable))

    def key_for(self, requirements: str) -> str:
        if not requirements:
            return ""
        version = ".".join(map(str, sys.version_info[:3]))
        return hashlib.sha256(f"python {version}\n{requirements}".encode()).hexdigest()[:32]

    def folder(self, key: str) -> Path:
        return self.root / key

    def get(self, requirements: str) -> Environment | None:
        """The ready environment for ``requirements``, or None if it must be built."""
        key = self.key_for(requirements)
        if not key:
            return self.base
        python = self.folder(key) / "bin" / "python"
        return Environment(key, python) if (self.folder(key) / ".ready").exists() else None

    def ensure(self, requirements: str) -> Environment:
        """Build the environment unless it exists; raise Invalid with uv's message on failure."""
        ready = self.get(requirements)
        if ready is not None:
            return ready
        key = self.key_for(requirements)
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / f"{key}.lock").open("w") as lock:
            # Two pushes of the same requirements build once; the second waits and reuses.
            fcntl.flock(lock, fcntl.LOCK_EX)
            ready = self.get(requirements)
            if ready is not None:
                return ready
            self._build(key, requirements)
        return Environment(key, self.folder(key) / "bin" / "python")

    def _build(self, key: str, requirements: str) -> None:
        # Built outside the sandbox: packages by name from the index, as wheels only.
        check_requirements(requirements)
        final = self.folder(key)
        shutil.rmtree(final, ignore_errors=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=self.root))
        try:
            venv = scratch / "env"
            self._uv("venv", "--quiet", "--relocatable", "--python", sys.executable, str(venv))
            req = scratch / "requirements.txt"
            req.write_text(requirements)
            self._uv(
                "pip",
                "install",
                "--quiet",
                "--compile-bytecode",  # runs write no bytecode: compile once, here
                "--no-build",  # a build would run the package's code with the server's rights
                "--python",
                str(venv / "bin" / "python"),
                *self._index_args(),
                "-r",
                str(req),
            )
            self._link_base(venv)
            venv.rename(final)
            (final / ".ready").touch()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)

    def _index_args(self) -> list[str]:
        return index_args(self.index_url, self.find_links)

    def _uv(self, *args: str) -> None:
        env = download_env()
        try:
            result = subprocess.run(  # noqa: S603 (fixed program, arguments we built)
                [uv_program(), *args],
                capture_output=True,
                text=True,
                env=env,
                timeout=_BUILD_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise Invalid(
                f"requirements.txt: installing took longer than {_BUILD_TIMEOUT} s"
            ) from None
        if result.returncode != 0:
            message = (result.stderr or result.stdout).strip()[-_MAX_MESSAGE:]
            if "wheel" in message:
                message += f"\n{WHEELS_ONLY}"
            raise Invalid(
                f"requirements.txt could not be installed:\n{message}",
                details={"field": "requirements.txt"},
            )

    @staticmethod
    def _link_base(venv: Path) -> None:
        """Make the server's packages importable after the environment's own."""
        purelib = sysconfig.get_paths()["purelib"]
        found = list((venv / "lib").glob("python*/site-packages"))
        if not found:
            raise RuntimeError(f"no site-packages in {venv}")
        (found[0] / "_joliba_base.pth").write_text(f"import site; site.addsitedir({purelib!r})\n")
