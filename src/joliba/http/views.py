"""Rows to wire shapes, shared by the API and the pages.

Lists are built by the plural functions, which load what every row shows in a few queries
whatever the number of rows (no query per row); the singular ones are lists of one.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from joliba.db.tables import Dataset as DatasetRow
from joliba.db.tables import DatasetVersion as VersionRow
from joliba.db.tables import Pipeline as PipelineRow
from joliba.db.tables import PipelineRun, PipelineVersion, User
from joliba.schemas.datasets import Dataset, DatasetFile, DatasetVersion
from joliba.schemas.pipelines import Pipeline, Run, RunLimits, RunOutput, Version
from joliba.services import datasets, pipelines, runs
from joliba.services.workspaces import Access


def version_view(version: PipelineVersion) -> Version:
    return Version.model_validate(version)


def pipeline_views(session: Session, rows: Sequence[PipelineRow]) -> list[Pipeline]:
    ids = [p.id for p in rows]
    latest = pipelines.latest_versions(session, ids)
    states = pipelines.last_run_states(session, ids)
    return [
        Pipeline(
            id=p.id,
            code=p.code,
            name=p.name,
            description=p.description,
            created_at=p.created_at,
            webhook_enabled=p.webhook_token_hash is not None,
            limits=RunLimits(**(p.limits or {})),
            latest_version=version_view(latest[p.id]) if p.id in latest else None,
            last_run_state=states.get(p.id),
        )
        for p in rows
    ]


def pipeline_view(session: Session, pipeline: PipelineRow) -> Pipeline:
    return pipeline_views(session, [pipeline])[0]


def run_views(
    session: Session, rows: Sequence[PipelineRun], *, with_outputs: bool = False
) -> list[Run]:
    people = runs.load_for_list(session, rows)
    views = []
    for run in rows:
        person = people.get(run.triggered_by_id) if run.triggered_by_id else None
        duration = None
        if run.started_at is not None and run.finished_at is not None:
            duration = (run.finished_at - run.started_at).total_seconds()
        outputs = runs.outputs(session, run) if with_outputs else []
        views.append(
            Run(
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
        )
    return views


def run_view(session: Session, run: PipelineRun, *, with_outputs: bool = True) -> Run:
    return run_views(session, [run], with_outputs=with_outputs)[0]


def dataset_version_views(
    session: Session, rows: Sequence[VersionRow], *, with_files: bool = True
) -> list[DatasetVersion]:
    authors = {r.author_id for r in rows if r.author_id}
    emails: dict[object, str] = {}
    if authors:
        for user_id, email in session.execute(
            select(User.id, User.email).where(User.id.in_(authors))
        ):
            emails[user_id] = email
    files = datasets.files_of(session, [r.id for r in rows]) if with_files else {}
    return [
        DatasetVersion(
            id=v.id,
            number=v.number,
            name=v.name,
            changelog=v.changelog,
            state=v.state,
            author=emails.get(v.author_id) if v.author_id else None,
            author_run=v.author_run_id,
            created_at=v.created_at,
            published_at=v.published_at,
            files=[DatasetFile.model_validate(f) for f in files.get(v.id, [])],
        )
        for v in rows
    ]


def dataset_version_view(
    session: Session, version: VersionRow, *, with_files: bool = True
) -> DatasetVersion:
    return dataset_version_views(session, [version], with_files=with_files)[0]


def dataset_views(session: Session, access: Access, rows: Sequence[DatasetRow]) -> list[Dataset]:
    latest = datasets.latest_published(session, [d.id for d in rows])
    shown = dict(
        zip(
            latest,
            dataset_version_views(session, list(latest.values())),
            strict=True,
        )
    )
    return [
        Dataset(
            id=d.id,
            ref=datasets.ref_of(access, d),
            workspace=d.workspace.slug,
            shared=d.workspace_id != access.workspace.id,
            slug=d.slug,
            name=d.name,
            description=d.description,
            tags=list(d.tags),
            created_at=d.created_at,
            latest=shown.get(d.id),
        )
        for d in rows
    ]


def dataset_view(session: Session, access: Access, dataset: DatasetRow) -> Dataset:
    return dataset_views(session, access, [dataset])[0]
