"""Turning a pushed archive into a version source: checked, unpacked, built, inspected.

All of it happens before any database row is written, so a push that fails at any step
creates nothing. User code runs only in a child process (``joliba.sdk.inspect``), in the
version's own environment and in the run sandbox (no network, no workspace), never in the
server process.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joliba.builds.environments import Environment, Environments, clean_env, sandbox_env
from joliba.builds.packages import (
    CodeCache,
    digest_of_text,
    extract,
    requirements_text,
    sha256_of,
)
from joliba.builds.sandbox import CODE, Mounts, Sandbox
from joliba.domain.errors import Invalid
from joliba.domain.run_limits import Limits
from joliba.settings import Settings
from joliba.storage.objects import ObjectStore

INSPECT_TIMEOUT = 120


@dataclass(frozen=True)
class VersionSource:
    """A checked archive: what the runner learnt from it before any row is written."""

    archive_sha256: str
    archive_size: int
    requirements_sha256: str
    #: What ``python -m joliba.sdk.inspect`` printed for the archive's pipeline.py.
    spec: dict[str, Any]


def archive_key(sha256: str) -> str:
    """Where a version's archive lives in the object store (content-addressed)."""
    return f"pipelines/archives/{sha256[:2]}/{sha256}.zip"


def inspect(
    environment: Environment, folder: Path, sandbox: Sandbox, limits: Limits
) -> dict[str, Any]:
    """The pipeline's spec, read by importing pipeline.py in a sandboxed child process."""
    argv = [str(environment.python), "-m", "joliba.sdk.inspect"]
    with tempfile.TemporaryDirectory(prefix="joliba-inspect-") as scratch:
        if sandbox.enabled:
            mounts = Mounts(code=folder, scratch=Path(scratch))
            python_env = environment.python.parent.parent if environment.key else None
            command = sandbox.command([*argv, str(CODE)], mounts, python_env=python_env)
            env = sandbox_env(environment, JOLIBA_LIMITS=limits.to_env())
        else:
            command, env = [*argv, str(folder)], clean_env()
        try:
            result = subprocess.run(  # noqa: S603 (our interpreter and module)
                command,
                cwd=folder,
                capture_output=True,
                text=True,
                env=env,
                timeout=INSPECT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise Invalid(
                f"pipeline.py: importing it took longer than {INSPECT_TIMEOUT} s"
            ) from None
    if result.returncode != 0:
        message = result.stderr.strip()[-4000:] or f"exit code {result.returncode}"
        raise Invalid(f"pipeline.py: {message}", details={"field": "pipeline.py"})
    try:
        spec = json.loads(result.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        raise Invalid("pipeline.py: the inspector printed no pipeline description") from None
    if not isinstance(spec, dict):
        raise Invalid("pipeline.py: the inspector printed no pipeline description")
    return spec


def prepare(
    archive: Path,
    *,
    store: ObjectStore,
    environments: Environments,
    code: CodeCache,
    sandbox: Sandbox,
    limits: Limits,
) -> VersionSource:
    """Check and unpack ``archive``, build its environment, read its spec, store it."""
    sha256 = sha256_of(archive)
    size = archive.stat().st_size
    scratch = Path(tempfile.mkdtemp(prefix="joliba-push-"))
    try:
        folder = scratch / "code"
        extract(archive, folder, max_unpacked=code.max_unpacked)
        requirements = requirements_text(folder)
        environment = environments.ensure(requirements)
        spec = inspect(environment, folder, sandbox, limits)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    key = archive_key(sha256)
    if not store.exists(key):
        store.put_file(archive, key)
    code.add(archive, sha256)
    return VersionSource(
        archive_sha256=sha256,
        archive_size=size,
        requirements_sha256=digest_of_text(requirements),
        spec=spec,
    )


def environments_for(settings: Settings) -> Environments:
    return Environments(
        settings.runtime_dir / "envs",
        index_url=settings.package_index_url,
        find_links=settings.package_find_links,
    )


def code_cache_for(settings: Settings) -> CodeCache:
    return CodeCache(settings.runtime_dir / "code", max_unpacked=settings.max_pipeline_bytes * 4)
