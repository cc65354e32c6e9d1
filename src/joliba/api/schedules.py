"""Cron schedules of a pipeline."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from joliba.db.tables import Pipeline, PipelineSchedule
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep, ReadDB, WriteDB, require
from joliba.schemas.pipelines import Schedule, ScheduleCreate, ScheduleUpdate
from joliba.services import pipelines, runs, schedules
from joliba.services.workspaces import Access

router = APIRouter(tags=["schedules"])
BASE = "/workspaces/{ws}/pipelines/{code}/schedules"


def schedule_view(session: Session, schedule: PipelineSchedule) -> Schedule:
    pipeline = session.get(Pipeline, schedule.pipeline_id)
    version = pipelines.latest_version(session, pipeline) if pipeline else None
    shown = runs.shown_parameters(version, schedule.parameters) if version else {}
    return Schedule(
        id=schedule.id,
        cron=schedule.cron,
        time_zone=schedule.time_zone,
        parameters=shown,
        overlap=schedule.overlap,
        enabled=schedule.enabled,
        next_at=schedule.next_at,
        created_at=schedule.created_at,
    )


@router.get(BASE, response_model=list[Schedule], summary="A pipeline's schedules")
def list_schedules(
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
) -> list[Schedule]:
    pipeline = pipelines.get(session, access, code)
    return [schedule_view(session, s) for s in schedules.list_for(session, pipeline)]


@router.post(
    BASE,
    status_code=201,
    response_model=Schedule,
    summary="Add a schedule (parameters checked against the latest version)",
)
def create_schedule(
    code: str,
    body: ScheduleCreate,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
    platform: PlatformDep,
) -> Schedule:
    pipeline = pipelines.get(session, access, code)
    schedule = schedules.create(
        session,
        access,
        platform.box,
        pipeline,
        cron=body.cron,
        time_zone=body.time_zone,
        parameters=body.parameters,
        overlap=body.overlap,
        enabled=body.enabled,
    )
    view = schedule_view(session, schedule)
    return view


@router.patch(BASE + "/{schedule_id}", response_model=Schedule, summary="Pause or resume")
def update_schedule(
    code: str,
    schedule_id: str,
    body: ScheduleUpdate,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
    platform: PlatformDep,
) -> Schedule:
    pipeline = pipelines.get(session, access, code)
    schedule = schedules.get(session, pipeline, schedule_id)
    schedules.set_enabled(session, access, schedule, body.enabled)
    view = schedule_view(session, schedule)
    return view


@router.delete(BASE + "/{schedule_id}", status_code=204, summary="Delete a schedule")
def delete_schedule(
    code: str,
    schedule_id: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
) -> Response:
    pipeline = pipelines.get(session, access, code)
    schedules.delete(session, access, schedules.get(session, pipeline, schedule_id))
    return Response(status_code=204)
