"""Cron schedules of pipelines, and firing each slot exactly once across servers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from joliba.db.tables import Pipeline, PipelineRun, PipelineSchedule, Workspace, utcnow
from joliba.domain.errors import Invalid, JolibaError, NotFound
from joliba.domain.permissions import Action
from joliba.domain.runs import RunState, Trigger
from joliba.domain.schedules import Overlap, check_cron, next_slot, zone
from joliba.services import audit, commit_events, runs
from joliba.services.crypto import SecretBox
from joliba.services.pipelines import get_version, latest_version
from joliba.services.workspaces import Access


def list_for(session: Session, pipeline: Pipeline) -> Sequence[PipelineSchedule]:
    return session.scalars(
        select(PipelineSchedule)
        .where(PipelineSchedule.pipeline_id == pipeline.id)
        .order_by(PipelineSchedule.created_at)
    ).all()


def get(session: Session, pipeline: Pipeline, schedule_id: str) -> PipelineSchedule:
    try:
        key = uuid.UUID(schedule_id)
    except ValueError:
        raise NotFound(f"schedule '{schedule_id}' not found") from None
    schedule = session.get(PipelineSchedule, key)
    if schedule is None or schedule.pipeline_id != pipeline.id:
        raise NotFound(f"schedule '{schedule_id}' not found")
    return schedule


def _parse_overlap(value: str) -> Overlap:
    try:
        return Overlap(value)
    except ValueError:
        raise Invalid("overlap: skip or queue", details={"field": "overlap"}) from None


def create(
    session: Session,
    access: Access,
    box: SecretBox,
    pipeline: Pipeline,
    *,
    cron: str,
    time_zone: str | None = None,
    parameters: Mapping[str, Any] | None = None,
    overlap: str = "skip",
    enabled: bool = True,
) -> PipelineSchedule:
    """Add a schedule; its parameter values are checked now against the latest version."""
    access.demand(Action.PIPELINE_WRITE)
    expression = check_cron(cron)
    tz = time_zone or access.workspace.time_zone
    zone(tz)
    version = get_version(session, pipeline, None)
    values = runs.check_values(session, box, version, parameters or {})
    schedule = PipelineSchedule(
        pipeline_id=pipeline.id,
        cron=expression,
        time_zone=tz,
        parameters=values,
        overlap=_parse_overlap(overlap),
        enabled=enabled,
        next_at=next_slot(expression, tz, utcnow()),
        created_by_id=access.actor.user.id,
    )
    session.add(schedule)
    session.flush()
    commit_events.announce(session, commit_events.SCHEDULES_CHANGED)
    audit.record(
        session,
        "schedule.create",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{pipeline.code} {expression} {tz}",
    )
    return schedule


def set_enabled(
    session: Session, access: Access, schedule: PipelineSchedule, enabled: bool
) -> PipelineSchedule:
    access.demand(Action.PIPELINE_WRITE)
    if enabled and not schedule.enabled:
        # Resume from now: slots missed while paused are not run.
        schedule.next_at = next_slot(schedule.cron, schedule.time_zone, utcnow())
    schedule.enabled = enabled
    session.flush()
    commit_events.announce(session, commit_events.SCHEDULES_CHANGED)
    audit.record(
        session,
        "schedule.update",
        actor=access.actor,
        workspace=access.workspace,
        target=str(schedule.id),
        details={"enabled": enabled},
    )
    return schedule


def delete(session: Session, access: Access, schedule: PipelineSchedule) -> None:
    access.demand(Action.PIPELINE_WRITE)
    session.delete(schedule)
    session.flush()
    audit.record(
        session,
        "schedule.delete",
        actor=access.actor,
        workspace=access.workspace,
        target=str(schedule.id),
    )


def next_due(session: Session) -> datetime | None:
    return session.scalar(
        select(func.min(PipelineSchedule.next_at)).where(PipelineSchedule.enabled.is_(True))
    )


def _claim_slot(session: Session, schedule: PipelineSchedule, now: datetime) -> datetime | None:
    """Move the schedule past ``now``; only the server whose update matched fires the slot.

    The update is conditional on the slot read, so when two servers race for one slot the
    database lets exactly one of them move it.
    """
    slot = schedule.next_at
    following = next_slot(schedule.cron, schedule.time_zone, now)
    moved = session.execute(
        update(PipelineSchedule)
        .where(PipelineSchedule.id == schedule.id, PipelineSchedule.next_at == slot)
        .values(next_at=following)
        .execution_options(synchronize_session=False)
    )
    return slot if moved.rowcount == 1 else None  # type: ignore[attr-defined]


def fire_due(
    session: Session, box: SecretBox, *, default_timeout: int, now: datetime | None = None
) -> list[PipelineRun]:
    """Queue (or record as skipped) one run for each schedule whose slot has come.

    A server that was down over several slots fires once, for the latest, then carries on.
    """
    now = now or utcnow()
    due = session.scalars(
        select(PipelineSchedule).where(
            PipelineSchedule.enabled.is_(True), PipelineSchedule.next_at <= now
        )
    ).all()
    fired: list[PipelineRun] = []
    for schedule in due:
        slot = _claim_slot(session, schedule, now)
        if slot is None:
            continue
        pipeline = session.get(Pipeline, schedule.pipeline_id)
        workspace = session.get(Workspace, pipeline.workspace_id) if pipeline else None
        if pipeline is None or workspace is None or workspace.archived:
            continue
        run = _fire(session, box, schedule, pipeline, slot, default_timeout)
        if run is not None:
            fired.append(run)
    session.flush()
    return fired


def _fire(
    session: Session,
    box: SecretBox,
    schedule: PipelineSchedule,
    pipeline: Pipeline,
    slot: datetime,
    default_timeout: int,
) -> PipelineRun | None:
    version = latest_version(session, pipeline)
    if version is None:
        return None
    detail = f"{schedule.cron} ({schedule.time_zone}) slot {slot.isoformat(timespec='minutes')}"
    busy = session.scalar(
        select(func.count())
        .select_from(PipelineRun)
        .where(
            PipelineRun.pipeline_id == pipeline.id,
            PipelineRun.state.in_([RunState.QUEUED, RunState.RUNNING]),
        )
    )
    reason = ""
    values: dict[str, Any] = {}
    if busy and schedule.overlap == Overlap.SKIP:
        reason = "skipped: the previous run had not finished"
    else:
        try:
            # The latest version may have changed its parameters since the schedule was set.
            clear = runs.unseal(box, version, schedule.parameters)
            values = runs.check_values(session, box, version, clear)
        except JolibaError as exc:
            reason = f"skipped: the schedule's parameters do not fit version {version.number}: "
            reason += exc.message
    run = runs.queue(
        session,
        box,
        version=version,
        values=values,
        trigger=Trigger.SCHEDULE,
        default_timeout=default_timeout,
        detail=detail,
        checked=True,
    )
    run.triggered_by_id = schedule.created_by_id
    if reason:
        now = utcnow()
        run.state = RunState.SKIPPED
        run.started_at = run.finished_at = now
        run.error = reason
    return run
