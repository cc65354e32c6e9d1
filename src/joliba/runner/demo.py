"""The demo's pipelines, pushed to the demo workspace with one run each: the starter
pipeline, and the health map of the demo's DHIS2 emulator (districts with their boundaries
and a year of malaria cases, which the dataset's map draws)."""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from joliba.client.archive import build
from joliba.db.tables import PipelineRun, PipelineVersion
from joliba.domain.errors import JolibaError
from joliba.domain.permissions import Action
from joliba.domain.runs import FINISHED, Trigger
from joliba.runner.dispatcher import Runner
from joliba.services import (
    pipeline_pushes,
    pipelines,
    runs,
    superset_demo,
    units,
    users,
    workspaces,
)
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.storage.tables import TableError
from joliba.storage.workspace_sql import list_tables
from joliba.templates import write_starter, write_template

log = logging.getLogger("joliba.demo")

CODE = "malaria-report"


HEALTH_MAP = "health-map"
#: The emulator's district level, and the data element mapped (a count, so sums make sense).
DISTRICT_LEVEL = "3"
MAPPED_ELEMENT = "Malaria suspected cases"


def seed_pipeline(platform: Platform, email: str, workspace: str) -> uuid.UUID | None:
    """Push the starter pipeline once and queue its first run; None if it already exists."""
    return _push_and_queue(
        platform,
        email,
        workspace,
        CODE,
        lambda folder: write_starter(folder, name="Malaria report", code=CODE),
        {"years": [2024, 2025]},
    )


def seed_health_map(
    platform: Platform, email: str, workspace: str, connection: str, data_element: str
) -> uuid.UUID | None:
    """Push the dhis2-health-map template once and queue a run over 2025's months of
    ``data_element`` from ``connection``; None if it already exists."""
    return _push_and_queue(
        platform,
        email,
        workspace,
        HEALTH_MAP,
        lambda folder: write_template(
            folder, "dhis2-health-map", name="Malaria health map", code=HEALTH_MAP
        ),
        {
            "source": connection,
            "level": DISTRICT_LEVEL,
            "data_elements": [data_element],
            "first_period": "202501",
            "last_period": "202512",
        },
    )


def _push_and_queue(
    platform: Platform,
    email: str,
    workspace: str,
    code: str,
    write: Callable[[Path], None],
    values: dict[str, Any],
) -> uuid.UUID | None:
    with platform.db.session(write=False) as session:
        user = users.get_by_email(session, email)
        assert user is not None
        actor = Actor(user=user)
        access = workspaces.authorize(session, actor, workspace, Action.PIPELINE_READ)
        if pipelines.find(session, access, code) is not None:
            return None
    with tempfile.TemporaryDirectory(prefix="joliba-demo-") as scratch:
        folder = Path(scratch) / code
        write(folder)
        archive = Path(scratch) / "pipeline.zip"
        build(folder, archive)
        pushed = pipeline_pushes.push(
            platform, actor, workspace, code=code, archive=archive, message="Added by joliba demo"
        )
    with units.work(platform.db, actor, workspace, Action.PIPELINE_RUN) as (session, _access):
        run = runs.queue(
            session,
            platform.box,
            version=session.get_one(PipelineVersion, pushed.id),
            values=values,
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


#: The table the health-map run writes to the demo workspace's database.
HEALTH_MAP_TABLE = "health_map"


def dashboard_when_ready(
    platform: Platform,
    workspace: str,
    done: Callable[[str], None],
    *,
    stopping: threading.Event,
    timeout: float = 1800.0,
) -> threading.Thread:
    """A thread that builds the demo's Superset dashboard (``services.superset_demo``) once
    the health-map run has written its table, then calls ``done`` with its page's path."""

    def wait_and_build() -> None:
        link = platform.superset
        assert link is not None
        deadline = time.monotonic() + timeout
        while not stopping.is_set() and time.monotonic() < deadline:
            try:
                if _has_table(platform, workspace, HEALTH_MAP_TABLE) and link.api.healthy():
                    dashboard = superset_demo.build(link, workspace, HEALTH_MAP_TABLE)
                    done(f"/w/{workspace}/dashboards/{dashboard}")
                    return
            except (JolibaError, TableError) as exc:  # Superset restarting, say: again
                log.warning("demo dashboard: %s", exc)
            stopping.wait(2.0)

    thread = threading.Thread(target=wait_and_build, name="joliba-demo-dashboard", daemon=True)
    thread.start()
    return thread


def _has_table(platform: Platform, workspace: str, table: str) -> bool:
    with platform.db.transaction(write=False) as session:
        workspace_id = workspaces.by_slug(session, workspace).id
    target = platform.databases.target(workspace_id, writable=False)
    if target.is_sqlite and not target.path.exists():
        return False
    return any(t.name == table for t in list_tables(target, counts=False))
