"""The demo's pipeline: the starter pipeline pushed to the demo workspace, with one run."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import select

from joliba.client.archive import build
from joliba.db.tables import PipelineRun, PipelineVersion
from joliba.domain.permissions import Action
from joliba.domain.runs import FINISHED, Trigger
from joliba.runner.dispatcher import Runner
from joliba.services import pipeline_pushes, pipelines, runs, units, users, workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.templates import write_starter

CODE = "malaria-report"


def seed_pipeline(platform: Platform, email: str, workspace: str) -> uuid.UUID | None:
    """Push the starter pipeline once and queue its first run; None if it already exists."""
    with platform.db.session(write=False) as session:
        user = users.get_by_email(session, email)
        assert user is not None
        actor = Actor(user=user)
        access = workspaces.authorize(session, actor, workspace, Action.PIPELINE_READ)
        if pipelines.find(session, access, CODE) is not None:
            return None
    with tempfile.TemporaryDirectory(prefix="joliba-demo-") as scratch:
        folder = Path(scratch) / CODE
        write_starter(folder, name="Malaria report", code=CODE)
        archive = Path(scratch) / "pipeline.zip"
        build(folder, archive)
        pushed = pipeline_pushes.push(
            platform, actor, workspace, code=CODE, archive=archive, message="Added by joliba demo"
        )
    with units.work(platform.db, actor, workspace, Action.PIPELINE_RUN) as (session, _access):
        run = runs.queue(
            session,
            platform.box,
            version=session.get_one(PipelineVersion, pushed.id),
            values={"years": [2024, 2025]},
            trigger=Trigger.MANUAL,
            default_timeout=platform.settings.run_timeout_seconds,
            actor=actor,
        )
        return run.id


def finish_run(platform: Platform, run_id: uuid.UUID, timeout: float = 120) -> str:
    """Execute queued runs until ``run_id`` has ended; its final state."""
    runner = Runner(platform)
    runner.start()
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with platform.db.session(write=False) as session:
                state = session.scalar(select(PipelineRun.state).where(PipelineRun.id == run_id))
            if state in FINISHED:
                return str(state)
            time.sleep(0.1)
        return "unfinished"
    finally:
        runner.stop()
