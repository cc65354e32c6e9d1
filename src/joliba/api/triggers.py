"""Pipeline triggers (start this pipeline when another one's run succeeds) and recipients."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from joliba.api.deps import PlatformDep, ReadDB, WriteDB, require
from joliba.domain.permissions import Action
from joliba.schemas.dataset_reads import DatasetTrigger, DatasetTriggerSet
from joliba.schemas.pipelines import PipelineTrigger, PipelineTriggerSet, Recipient, RecipientSet
from joliba.services import dataset_triggers, pipelines, recipients, runs, triggers
from joliba.services.workspaces import Access

router = APIRouter(tags=["pipelines"])
TRIGGERS = "/workspaces/{ws}/pipelines/{code}/triggers"
RECIPIENTS = "/workspaces/{ws}/pipelines/{code}/recipients"


@router.get(TRIGGERS, response_model=list[PipelineTrigger], summary="What starts this pipeline")
def list_triggers(
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
) -> list[PipelineTrigger]:
    pipeline = pipelines.get(session, access, code)
    version = pipelines.get_version(session, pipeline, None)
    return [
        PipelineTrigger(
            source=source,
            parameters=runs.shown_parameters(version, t.parameters),
            created_at=t.created_at,
        )
        for t, source in triggers.list_for(session, pipeline)
    ]


@router.post(
    TRIGGERS,
    status_code=201,
    response_model=PipelineTrigger,
    summary="Start this pipeline whenever a run of the source pipeline succeeds",
)
def set_trigger(
    code: str,
    body: PipelineTriggerSet,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
    platform: PlatformDep,
) -> PipelineTrigger:
    pipeline = pipelines.get(session, access, code)
    trigger = triggers.set_trigger(
        session, access, platform.box, pipeline, source=body.source, parameters=body.parameters
    )
    version = pipelines.get_version(session, pipeline, None)
    view = PipelineTrigger(
        source=body.source,
        parameters=runs.shown_parameters(version, trigger.parameters),
        created_at=trigger.created_at,
    )
    session.commit()
    return view


@router.delete(TRIGGERS + "/{source}", status_code=204, summary="Remove a trigger")
def remove_trigger(
    code: str,
    source: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
) -> Response:
    triggers.remove(session, access, pipelines.get(session, access, code), source)
    session.commit()
    return Response(status_code=204)


@router.get(RECIPIENTS, response_model=list[Recipient], summary="Who is emailed about runs")
def list_recipients(
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
) -> list[Recipient]:
    pipeline = pipelines.get(session, access, code)
    return [
        Recipient(email=r.user.email, notify_on=r.notify_on)
        for r in recipients.list_for(session, pipeline)
    ]


@router.post(
    RECIPIENTS,
    status_code=201,
    response_model=Recipient,
    summary="Email a workspace member when runs fail (or after every run)",
)
def set_recipient(
    code: str,
    body: RecipientSet,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
) -> Recipient:
    pipeline = pipelines.get(session, access, code)
    recipient = recipients.set_recipient(
        session, access, pipeline, email=body.email, notify_on=body.notify_on
    )
    view = Recipient(email=recipient.user.email, notify_on=recipient.notify_on)
    session.commit()
    return view


@router.delete(RECIPIENTS + "/{email}", status_code=204, summary="Stop emailing someone")
def remove_recipient(
    code: str,
    email: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
) -> Response:
    recipients.remove(session, access, pipelines.get(session, access, code), email)
    session.commit()
    return Response(status_code=204)


DATASET_TRIGGERS = "/workspaces/{ws}/pipelines/{code}/dataset-triggers"


@router.get(
    DATASET_TRIGGERS,
    response_model=list[DatasetTrigger],
    summary="The datasets whose new versions start this pipeline",
)
def list_dataset_triggers(
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
) -> list[DatasetTrigger]:
    pipeline = pipelines.get(session, access, code)
    version = pipelines.get_version(session, pipeline, None)
    return [
        DatasetTrigger(
            dataset=ref,
            parameters=runs.shown_parameters(version, t.parameters),
            created_at=t.created_at,
        )
        for t, ref in dataset_triggers.list_for(session, access, pipeline)
    ]


@router.post(
    DATASET_TRIGGERS,
    status_code=201,
    response_model=DatasetTrigger,
    summary="Start this pipeline whenever the dataset (owned or shared) publishes a version",
)
def set_dataset_trigger(
    code: str,
    body: DatasetTriggerSet,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
    platform: PlatformDep,
) -> DatasetTrigger:
    pipeline = pipelines.get(session, access, code)
    trigger = dataset_triggers.set_trigger(
        session, access, platform.box, pipeline, dataset=body.dataset, parameters=body.parameters
    )
    version = pipelines.get_version(session, pipeline, None)
    view = DatasetTrigger(
        dataset=body.dataset,
        parameters=runs.shown_parameters(version, trigger.parameters),
        created_at=trigger.created_at,
    )
    session.commit()
    return view


@router.delete(DATASET_TRIGGERS + "/{dataset}", status_code=204, summary="Remove a dataset trigger")
def remove_dataset_trigger(
    code: str,
    dataset: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE))],
    session: WriteDB,
) -> Response:
    dataset_triggers.remove(session, access, pipelines.get(session, access, code), dataset)
    session.commit()
    return Response(status_code=204)
