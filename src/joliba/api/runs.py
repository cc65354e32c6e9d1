"""Runs: start one, list, follow its logs, download them, cancel."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import PlainTextResponse

from joliba.domain.numbers import MAX_BIGINT
from joliba.domain.permissions import Action
from joliba.domain.runs import FINISHED, Trigger
from joliba.http.deps import Paging, PlatformDep, ReadDB, WriteDB, page_of, require
from joliba.http.views import run_view, run_views
from joliba.schemas.common import Page
from joliba.schemas.pipelines import LogLine, Run, RunCreate, RunLogs
from joliba.services import pipelines, runs
from joliba.services.workspaces import Access

router = APIRouter(tags=["runs"])


@router.post(
    "/workspaces/{ws}/pipelines/{code}/runs",
    status_code=201,
    response_model=Run,
    summary="Start a run (parameters are checked before it is queued)",
)
def create_run(
    code: str,
    body: RunCreate,
    access: Annotated[Access, Depends(require(Action.PIPELINE_RUN))],
    session: WriteDB,
    platform: PlatformDep,
) -> Run:
    pipeline = pipelines.get(session, access, code)
    version = pipelines.get_version(session, pipeline, body.version)
    run = runs.queue(
        session,
        platform.box,
        version=version,
        values=body.parameters,
        trigger=Trigger.MANUAL,
        default_timeout=platform.settings.run_timeout_seconds,
        actor=access.actor,
    )
    view = run_view(session, run, with_outputs=False)
    return view


@router.get(
    "/workspaces/{ws}/pipelines/{code}/runs",
    response_model=Page[Run],
    summary="A pipeline's runs, newest first",
)
def list_pipeline_runs(
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
    page: Paging,
    state: Annotated[str, Query(max_length=16)] = "",
) -> Page[Run]:
    pipeline = pipelines.get(session, access, code)
    rows, total = runs.list_for(session, access, page, pipeline=pipeline, state=state)
    return page_of(run_views(session, rows), page, total)


@router.get("/workspaces/{ws}/runs", response_model=Page[Run], summary="The workspace's runs")
def list_runs(
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
    page: Paging,
    state: Annotated[str, Query(max_length=16)] = "",
) -> Page[Run]:
    rows, total = runs.list_for(session, access, page, state=state)
    return page_of(run_views(session, rows), page, total)


@router.get("/workspaces/{ws}/runs/{run_id}", response_model=Run, summary="A run")
def get_run(
    run_id: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
) -> Run:
    return run_view(session, runs.get(session, access, run_id))


@router.get(
    "/workspaces/{ws}/runs/{run_id}/logs",
    response_model=RunLogs,
    summary="A run's log lines after a cursor (poll with next_after to follow)",
)
def get_logs(
    run_id: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
    after: Annotated[
        int, Query(ge=0, le=MAX_BIGINT, description="Only lines with a larger id")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
    search: Annotated[str, Query(max_length=200, description="Case-insensitive text")] = "",
) -> RunLogs:
    run = runs.get(session, access, run_id)
    # Read the state first: lines written before a run ends are then all visible.
    state = run.state
    lines = runs.logs(session, run, after=after, limit=limit, search=search)
    return RunLogs(
        items=[LogLine.model_validate(line) for line in lines],
        next_after=lines[-1].id if lines else after,
        state=state,
        finished=state in FINISHED and len(lines) < limit,
    )


@router.get(
    "/workspaces/{ws}/runs/{run_id}/logs.txt",
    response_class=PlainTextResponse,
    summary="Download a run's whole log as text",
)
def download_logs(
    run_id: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
) -> PlainTextResponse:
    run = runs.get(session, access, run_id)
    text = "".join(
        f"{line.at.isoformat()} {line.stream:<6} {line.level:<7} {line.message}\n"
        for line in runs.all_logs(session, run)
    )
    return PlainTextResponse(
        text,
        headers={"Content-Disposition": f'attachment; filename="run-{run.id}.log"'},
    )


@router.post(
    "/workspaces/{ws}/runs/{run_id}/cancel",
    response_model=Run,
    summary="Cancel a run (queued: at once; running: its process tree is stopped)",
)
def cancel_run(
    run_id: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_RUN))],
    session: WriteDB,
    platform: PlatformDep,
) -> Run:
    run = runs.request_cancel(session, access, runs.get(session, access, run_id))
    view = run_view(session, run)
    return view
