"""Publishing a dataset version starts the pipelines whose dataset triggers name the dataset.

The triggers themselves are set and removed through ``services/automations.py``; which runs a
version starts (a revoked share stops a trigger on a shared dataset) is looked up in
``automation_kinds.starts``, as for a run's success.
"""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session

from joliba.db.tables import Dataset, DatasetVersion, PipelineRun
from joliba.domain.errors import Invalid
from joliba.domain.runs import Trigger
from joliba.services import runs
from joliba.services.automation_kinds import Kind, starts
from joliba.services.crypto import SecretBox

log = logging.getLogger("joliba.datasets")


def fire(
    session: Session,
    box: SecretBox,
    dataset: Dataset,
    version: DatasetVersion,
    *,
    default_timeout: int,
) -> list[PipelineRun]:
    """Queue the runs that ``version`` of ``dataset`` (just published) starts."""
    queued = []
    for start in starts(session, Kind.DATASET, dataset.id):
        try:
            queued.append(
                runs.queue(
                    session,
                    box,
                    version=start.version,
                    values=runs.unseal(box, start.version, start.parameters),
                    trigger=Trigger.DATASET,
                    default_timeout=default_timeout,
                    detail=f"dataset {dataset.slug} {version.name}",
                )
            )
        except Invalid as exc:  # the pipeline's parameters changed since the trigger was set
            code = start.version.pipeline.code
            log.warning("dataset trigger of %s could not start: %s", code, exc.message)
    return queued
