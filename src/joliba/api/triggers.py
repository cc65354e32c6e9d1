"""What starts a pipeline by itself and who is emailed: thin routes over services.automations.

Each kind keeps its own paths and wire shapes: ``…/triggers`` (another pipeline's success),
``…/dataset-triggers`` and ``…/recipients``. The webhook's routes are in ``api/webhooks.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from sqlalchemy.orm import Session

from joliba.db.tables import PipelineVersion
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep, ReadDB, WriteDB, require
from joliba.schemas.dataset_reads import DatasetTrigger, DatasetTriggerSet
from joliba.schemas.pipelines import PipelineTrigger, PipelineTriggerSet, Recipient, RecipientSet
from joliba.services import automations, pipelines, runs
from joliba.services.automation_kinds import Automation, Kind
from joliba.services.platform import Platform
from joliba.services.workspaces import Access

router = APIRouter(tags=["pipelines"])
BASE = "/workspaces/{ws}/pipelines/{code}"
TRIGGERS = BASE + "/triggers"
DATASET_TRIGGERS = BASE + "/dataset-triggers"
RECIPIENTS = BASE + "/recipients"
Reader = Annotated[Access, Depends(require(Action.PIPELINE_READ))]
Writer = Annotated[Access, Depends(require(Action.PIPELINE_WRITE))]


@router.get(TRIGGERS, response_model=list[PipelineTrigger], summary="What starts this pipeline")
def list_triggers(code: str, access: Reader, session: ReadDB) -> list[PipelineTrigger]:
    version, listed = _listed(session, access, code, Kind.PIPELINE)
    return [PipelineTrigger(source=a.source, **_started(version, a)) for a in listed]


@router.post(
    TRIGGERS,
    status_code=201,
    response_model=PipelineTrigger,
    summary="Start this pipeline whenever a run of the source pipeline succeeds",
)
def set_trigger(
    code: str, body: PipelineTriggerSet, access: Writer, session: WriteDB, platform: PlatformDep
) -> PipelineTrigger:
    version, a = _set(session, access, platform, code, Kind.PIPELINE, body.source, body.parameters)
    return PipelineTrigger(source=a.source, **_started(version, a))


@router.delete(TRIGGERS + "/{source}", status_code=204, summary="Remove a trigger")
def remove_trigger(code: str, source: str, access: Writer, session: WriteDB) -> Response:
    return _removed(session, access, code, Kind.PIPELINE, source)


@router.get(RECIPIENTS, response_model=list[Recipient], summary="Who is emailed about runs")
def list_recipients(code: str, access: Reader, session: ReadDB) -> list[Recipient]:
    pipeline = pipelines.get(session, access, code)
    listed = automations.list_for(session, access, pipeline, Kind.EMAIL)
    return [Recipient(email=a.source, notify_on=a.notify_on) for a in listed]


@router.post(
    RECIPIENTS,
    status_code=201,
    response_model=Recipient,
    summary="Email a workspace member when runs fail (or after every run)",
)
def set_recipient(
    code: str, body: RecipientSet, access: Writer, session: WriteDB, platform: PlatformDep
) -> Recipient:
    pipeline = pipelines.get(session, access, code)
    a = automations.set(
        session,
        access,
        platform.box,
        pipeline,
        Kind.EMAIL,
        source=body.email,
        notify_on=body.notify_on,
    )
    return Recipient(email=a.source, notify_on=a.notify_on)


@router.delete(RECIPIENTS + "/{email}", status_code=204, summary="Stop emailing someone")
def remove_recipient(code: str, email: str, access: Writer, session: WriteDB) -> Response:
    return _removed(session, access, code, Kind.EMAIL, email)


@router.get(
    DATASET_TRIGGERS,
    response_model=list[DatasetTrigger],
    summary="The datasets whose new versions start this pipeline",
)
def list_dataset_triggers(code: str, access: Reader, session: ReadDB) -> list[DatasetTrigger]:
    version, listed = _listed(session, access, code, Kind.DATASET)
    return [DatasetTrigger(dataset=a.source, **_started(version, a)) for a in listed]


@router.post(
    DATASET_TRIGGERS,
    status_code=201,
    response_model=DatasetTrigger,
    summary="Start this pipeline whenever the dataset (owned or shared) publishes a version",
)
def set_dataset_trigger(
    code: str, body: DatasetTriggerSet, access: Writer, session: WriteDB, platform: PlatformDep
) -> DatasetTrigger:
    version, a = _set(session, access, platform, code, Kind.DATASET, body.dataset, body.parameters)
    return DatasetTrigger(dataset=a.source, **_started(version, a))


@router.delete(DATASET_TRIGGERS + "/{dataset}", status_code=204, summary="Remove a dataset trigger")
def remove_dataset_trigger(code: str, dataset: str, access: Writer, session: WriteDB) -> Response:
    return _removed(session, access, code, Kind.DATASET, dataset)


def _listed(
    session: Session, access: Access, code: str, kind: Kind
) -> tuple[PipelineVersion, list[Automation]]:
    """A trigger kind's list, with the latest version that masks its secrets (none: 404)."""
    pipeline = pipelines.get(session, access, code)
    version = pipelines.get_version(session, pipeline, None)
    return version, automations.list_for(session, access, pipeline, kind)


def _set(
    session: Session,
    access: Access,
    platform: Platform,
    code: str,
    kind: Kind,
    source: str,
    parameters: dict[str, Any],
) -> tuple[PipelineVersion, Automation]:
    """Set a trigger kind, with the latest version that masks its secrets."""
    pipeline = pipelines.get(session, access, code)
    automation = automations.set(
        session, access, platform.box, pipeline, kind, source=source, parameters=parameters
    )
    return pipelines.get_version(session, pipeline, None), automation


def _started(version: PipelineVersion, automation: Automation) -> dict[str, Any]:
    """What a trigger's answer holds besides its source: values (secrets masked), creation."""
    return {
        "parameters": runs.shown_parameters(version, automation.parameters),
        "created_at": automation.created_at,
    }


def _removed(session: Session, access: Access, code: str, kind: Kind, source: str) -> Response:
    automations.remove(session, access, pipelines.get(session, access, code), kind, source)
    return Response(status_code=204)
