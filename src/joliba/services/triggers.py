"""Pipeline triggers: when a run of the source succeeds, a run of the target is queued."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Pipeline, PipelineTrigger
from joliba.domain.errors import Invalid, NotFound
from joliba.services import audit, runs
from joliba.services.crypto import SecretBox
from joliba.services.pipelines import get, get_version
from joliba.services.workspaces import Access


def list_for(session: Session, pipeline: Pipeline) -> Sequence[tuple[PipelineTrigger, str]]:
    """The triggers that start ``pipeline``, with their source pipeline's code."""
    rows = session.execute(
        select(PipelineTrigger, Pipeline.code)
        .join(Pipeline, Pipeline.id == PipelineTrigger.source_id)
        .where(PipelineTrigger.pipeline_id == pipeline.id)
        .order_by(Pipeline.code)
    ).all()
    return [(row[0], row[1]) for row in rows]


def set_trigger(
    session: Session,
    access: Access,
    box: SecretBox,
    pipeline: Pipeline,
    *,
    source: str,
    parameters: Mapping[str, Any] | None = None,
) -> PipelineTrigger:
    """Start ``pipeline`` whenever a run of ``source`` (same workspace) succeeds."""
    upstream = get(session, access, source)
    if upstream.id == pipeline.id:
        raise Invalid("source: a pipeline cannot trigger itself", details={"field": "source"})
    values = runs.check_values(session, box, get_version(session, pipeline, None), parameters or {})
    existing = session.scalar(
        select(PipelineTrigger).where(
            PipelineTrigger.pipeline_id == pipeline.id, PipelineTrigger.source_id == upstream.id
        )
    )
    if existing is None:
        existing = PipelineTrigger(pipeline_id=pipeline.id, source_id=upstream.id)
        session.add(existing)
    existing.parameters = values
    session.flush()
    audit.record(
        session,
        "trigger.set",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{source} -> {pipeline.code}",
    )
    return existing


def remove(session: Session, access: Access, pipeline: Pipeline, source: str) -> None:
    upstream = get(session, access, source)
    existing = session.scalar(
        select(PipelineTrigger).where(
            PipelineTrigger.pipeline_id == pipeline.id, PipelineTrigger.source_id == upstream.id
        )
    )
    if existing is None:
        raise NotFound(f"'{source}' does not trigger '{pipeline.code}'")
    session.delete(existing)
    session.flush()
    audit.record(
        session,
        "trigger.remove",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{source} -> {pipeline.code}",
    )
