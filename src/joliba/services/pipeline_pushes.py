"""Pushing a pipeline version: build it from its archive, then record it.

The build (unpacking, the environment, reading the spec in the sandbox) is file and process
work in ``joliba.builds`` and runs with no transaction open; only then is the actor authorised
again (the role or the workspace may have changed during a long build) and the version row
written. A push that fails at any step leaves no row behind.
"""

from __future__ import annotations

from pathlib import Path

from joliba.builds.sandbox import Sandbox
from joliba.builds.versions import code_cache_for, environments_for, prepare
from joliba.db.tables import PipelineVersion
from joliba.domain.permissions import Action
from joliba.domain.run_limits import Limits
from joliba.services import pipelines, units
from joliba.services.actors import Actor
from joliba.services.platform import Platform


def push(
    platform: Platform, actor: Actor, ws: str, *, code: str, archive: Path, message: str = ""
) -> PipelineVersion:
    """A new version of pipeline ``code`` in workspace ``ws`` from the zip at ``archive``."""
    settings = platform.settings
    source = prepare(
        archive,
        store=platform.store,
        environments=environments_for(settings),
        code=code_cache_for(settings),
        sandbox=Sandbox(settings),
        limits=Limits.from_settings(settings),
    )
    with units.work(platform.db, actor, ws, Action.PIPELINE_WRITE) as (session, access):
        return pipelines.create_version(session, access, code=code, source=source, message=message)
