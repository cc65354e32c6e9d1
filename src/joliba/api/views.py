"""Rows to wire shapes, for the pipeline and run endpoints (shared with the web pages)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from joliba.db.tables import Pipeline as PipelineRow
from joliba.db.tables import PipelineRun, PipelineVersion
from joliba.schemas.pipelines import Pipeline, Run, RunLimits, RunOutput, Version
from joliba.services import pipelines, runs


def version_view(version: PipelineVersion) -> Version:
    return Version.model_validate(version)


def pipeline_view(session: Session, pipeline: PipelineRow) -> Pipeline:
    latest = pipelines.latest_version(session, pipeline)
    last = pipelines.last_runs(session, pipeline, limit=1)
    return Pipeline(
        id=pipeline.id,
        code=pipeline.code,
        name=pipeline.name,
        description=pipeline.description,
        created_at=pipeline.created_at,
        webhook_enabled=pipeline.webhook_token_hash is not None,
        limits=RunLimits(**(pipeline.limits or {})),
        latest_version=version_view(latest) if latest else None,
        last_run_state=last[0].state if last else None,
    )


def run_view(session: Session, run: PipelineRun, *, with_outputs: bool = True) -> Run:
    person = runs.triggered_by(session, run)
    duration = None
    if run.started_at is not None and run.finished_at is not None:
        duration = (run.finished_at - run.started_at).total_seconds()
    outputs = runs.outputs(session, run) if with_outputs else []
    return Run(
        id=run.id,
        pipeline=run.pipeline.code,
        version=run.version.number,
        state=run.state,
        trigger=run.trigger,
        trigger_detail=run.trigger_detail,
        triggered_by=person.email if person else None,
        parameters=runs.shown_parameters(run.version, run.parameters),
        attempt=run.attempt,
        retry_of=run.retry_of_id,
        queued_at=run.queued_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=duration,
        progress=run.progress,
        progress_message=run.progress_message,
        exit_code=run.exit_code,
        error=run.error,
        cancel_requested=run.cancel_requested_at is not None,
        outputs=[RunOutput.model_validate(o) for o in outputs],
    )
