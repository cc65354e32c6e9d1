"""Dataset triggers: when a dataset gets a new published version, queue a pipeline run.

The dataset may be the pipeline workspace's own or one shared with it; a trigger on a
shared dataset stops firing when the share is revoked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import (
    Dataset,
    DatasetShare,
    DatasetTrigger,
    DatasetVersion,
    Pipeline,
    PipelineRun,
)
from joliba.domain.errors import Invalid, NotFound
from joliba.domain.runs import Trigger
from joliba.services import audit, datasets, runs
from joliba.services.crypto import SecretBox
from joliba.services.pipelines import get_version, latest_version
from joliba.services.workspaces import Access

log = logging.getLogger("joliba.datasets")


def list_for(
    session: Session, access: Access, pipeline: Pipeline
) -> Sequence[tuple[DatasetTrigger, str]]:
    """The dataset triggers of ``pipeline`` with the dataset as the workspace names it."""
    rows = session.execute(
        select(DatasetTrigger, Dataset)
        .join(Dataset, Dataset.id == DatasetTrigger.dataset_id)
        .where(DatasetTrigger.pipeline_id == pipeline.id)
        .order_by(Dataset.slug)
    ).all()
    return [(row[0], datasets.ref_of(access, row[1])) for row in rows]


def set_trigger(
    session: Session,
    access: Access,
    box: SecretBox,
    pipeline: Pipeline,
    *,
    dataset: str,
    parameters: Mapping[str, Any] | None = None,
) -> DatasetTrigger:
    """Start ``pipeline`` whenever ``dataset`` (owned or shared) publishes a version."""
    try:
        source = datasets.get(session, access, dataset)
    except NotFound:
        raise NotFound(f"dataset '{dataset}' not found", details={"field": "dataset"}) from None
    values = runs.check_values(session, box, get_version(session, pipeline, None), parameters or {})
    existing = session.scalar(
        select(DatasetTrigger).where(
            DatasetTrigger.pipeline_id == pipeline.id, DatasetTrigger.dataset_id == source.id
        )
    )
    if existing is None:
        existing = DatasetTrigger(pipeline_id=pipeline.id, dataset_id=source.id)
        session.add(existing)
    existing.parameters = values
    session.flush()
    audit.record(
        session,
        "trigger.set",
        actor=access.actor,
        workspace=access.workspace,
        target=f"dataset {dataset} -> {pipeline.code}",
    )
    return existing


def remove(session: Session, access: Access, pipeline: Pipeline, dataset: str) -> None:
    source = datasets.get(session, access, dataset)
    existing = session.scalar(
        select(DatasetTrigger).where(
            DatasetTrigger.pipeline_id == pipeline.id, DatasetTrigger.dataset_id == source.id
        )
    )
    if existing is None:
        raise NotFound(f"dataset '{dataset}' does not trigger '{pipeline.code}'")
    session.delete(existing)
    session.flush()
    audit.record(
        session,
        "trigger.remove",
        actor=access.actor,
        workspace=access.workspace,
        target=f"dataset {dataset} -> {pipeline.code}",
    )


def fire(
    session: Session,
    box: SecretBox,
    dataset: Dataset,
    version: DatasetVersion,
    *,
    default_timeout: int,
) -> list[PipelineRun]:
    """Queue the runs that ``version`` of ``dataset`` (just published) starts."""
    shared_with = set(
        session.scalars(
            select(DatasetShare.workspace_id).where(DatasetShare.dataset_id == dataset.id)
        )
    )
    queued = []
    for trigger in session.scalars(
        select(DatasetTrigger).where(DatasetTrigger.dataset_id == dataset.id)
    ):
        pipeline = session.get(Pipeline, trigger.pipeline_id)
        target = latest_version(session, pipeline) if pipeline else None
        if pipeline is None or target is None:
            continue
        if (
            pipeline.workspace_id != dataset.workspace_id
            and pipeline.workspace_id not in shared_with
        ):
            continue  # the share was revoked
        try:
            queued.append(
                runs.queue(
                    session,
                    box,
                    version=target,
                    values=runs.unseal(box, target, trigger.parameters),
                    trigger=Trigger.DATASET,
                    default_timeout=default_timeout,
                    detail=f"dataset {dataset.slug} {version.name}",
                )
            )
        except Invalid as exc:  # the pipeline's parameters changed since the trigger was set
            log.warning("dataset trigger of %s could not start: %s", pipeline.code, exc.message)
    return queued
