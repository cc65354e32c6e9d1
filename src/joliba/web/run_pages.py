"""Pipeline runs: the workspace's runs, one run with its live log, and cancelling a run.

The live log is static/run_logs.js polling the API's ``…/runs/{id}/logs?after=N`` (the
session cookie authenticates it) and, when the run's state changes, swapping in the summary
fragment served by ``/w/{ws}/runs/{id}/summary``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from joliba.db.tables import PipelineRun, utcnow
from joliba.domain.errors import Conflict
from joliba.domain.paging import MAX_PAGE, PageRequest
from joliba.domain.permissions import Action
from joliba.domain.runs import FINISHED, RunState
from joliba.http.deps import PlatformDep
from joliba.http.views import run_view, run_views
from joliba.services import pipelines, runs, units
from joliba.services.workspaces import Access
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.forms import see_other
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
PAGE_SIZE = 50
#: Log lines rendered with the page; static/run_logs.js fetches the rest.
LOG_LINES = 2000
STATES = tuple(state.value for state in RunState)


def duration_text(seconds: float | None) -> str:
    """``4.2 s``, ``3 min 05 s``, ``2 h 03 min``; an em dash when unknown."""
    if seconds is None:
        return "—"
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def clock(value: datetime, zone: str) -> str:
    """The time of day of a log line in the workspace's time zone."""
    try:
        tz = ZoneInfo(zone)
    except Exception:
        tz = ZoneInfo("UTC")
    return value.astimezone(tz).strftime("%H:%M:%S")


def trigger_text(trigger: str, detail: str, who: str | None) -> str:
    """How a run started, for people: "manual, by ana@example.org", "schedule (0 6 * * *)"."""
    text = trigger
    if detail:
        text += f" ({detail})"
    if who:
        text += f", by {who}"
    return text


def run_url(ws: str, run_id: object) -> str:
    return f"/w/{ws}/runs/{run_id}"


@router.get("/w/{ws}/runs")
def run_list(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    state: Annotated[str, Query(max_length=16)] = "",
    pipeline: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    state = state.strip() if state.strip() in STATES else ""
    with units.work(platform.db, actor, ws, Action.PIPELINE_READ) as (session, access):
        only = pipelines.get(session, access, pipeline) if pipeline else None
        rows, total = runs.list_for(
            session,
            access,
            PageRequest(page=page, page_size=PAGE_SIZE),
            pipeline=only,
            state=state or None,
        )
        views = run_views(session, rows)
        names = {r.pipeline.code: r.pipeline.name for r in rows}
    filters = {k: v for k, v in (("state", state), ("pipeline", pipeline)) if v}
    context = workspace_context(
        access,
        "pipelines",
        runs=views,
        names=names,
        total=total,
        page=page,
        page_size=PAGE_SIZE,
        state=state,
        states=STATES,
        pipeline=only,
        filters=filters,
        duration=duration_text,
        trigger_text=trigger_text,
    )
    return render(request, "runs.html", context)


@router.get("/w/{ws}/runs/{run_id}")
def run_page(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, run_id: str
) -> Response:
    with units.work(platform.db, actor, ws, Action.PIPELINE_READ) as (session, access):
        run = runs.get(session, access, run_id)
        context = _summary_context(session, access, run)
        lines = runs.logs(session, run, limit=LOG_LINES)
    context.update(
        lines=lines,
        after=lines[-1].id if lines else 0,
        # Like the API: finished once the state is final and every line is shown.
        log_finished=run.state in FINISHED and len(lines) < LOG_LINES,
        clock=clock,
    )
    return render(request, "run.html", context)


@router.get("/w/{ws}/runs/{run_id}/summary")
def run_summary(
    request: Request, platform: PlatformDep, actor: PageActor, ws: str, run_id: str
) -> Response:
    """The run page's summary (state, times, progress, outputs, cancel), for live refresh."""
    with units.work(platform.db, actor, ws, Action.PIPELINE_READ) as (session, access):
        context = _summary_context(session, access, runs.get(session, access, run_id))
    return render(request, "_run_summary.html", context)


@router.post("/w/{ws}/runs/{run_id}/cancel")
def run_cancel(platform: PlatformDep, actor: PageActor, ws: str, run_id: str) -> Response:
    # An archived workspace's refusal (409) comes from the unit of work and is answered as
    # an error page; only the run's own conflict is shown on the run page.
    with units.work(platform.db, actor, ws, Action.PIPELINE_RUN) as (session, access):
        run = runs.get(session, access, run_id)
        try:
            state = runs.request_cancel(session, access, run).state
        except Conflict as exc:
            # Typically: it ended while the page was open. Show the run as it is now.
            ended = exc.message
        else:
            ended = ""
    if ended:
        return see_other(run_url(ws, run_id), ended)
    flash = "Run cancelled." if state == RunState.CANCELLED else "Cancel requested: stopping…"
    return see_other(run_url(ws, run_id), flash)


def _summary_context(session: Session, access: Access, run: PipelineRun) -> dict[str, Any]:
    view = run_view(session, run)
    labels = {spec["code"]: spec.get("name") or spec["code"] for spec in run.version.parameters}
    parameters = [(labels.get(code, code), code, value) for code, value in view.parameters.items()]
    active = run.state in (RunState.QUEUED, RunState.RUNNING)
    elapsed = None
    if run.state == RunState.RUNNING and run.started_at is not None:
        elapsed = max(0.0, (utcnow() - run.started_at).total_seconds())
    return workspace_context(
        access,
        "pipelines",
        run=view,
        pipeline=run.pipeline,
        parameters=parameters,
        finished=run.state in FINISHED,
        elapsed=elapsed,
        can_cancel=(
            active
            and not view.cancel_requested
            and access.allows(Action.PIPELINE_RUN)
            and not access.workspace.archived
        ),
        duration=duration_text,
        trigger_text=trigger_text,
    )
