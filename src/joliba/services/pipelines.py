"""Pipelines and their immutable versions."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from joliba.builds.versions import VersionSource
from joliba.db.tables import Pipeline, PipelineRun, PipelineVersion
from joliba.domain.errors import Invalid, NotFound
from joliba.domain.numbers import MAX_INT
from joliba.domain.paging import PageRequest
from joliba.domain.parameters import specs_from_json
from joliba.domain.permissions import Action
from joliba.domain.slugs import check_name, check_slug
from joliba.services import audit
from joliba.services.newest import newest_of_each
from joliba.services.paging import paginate
from joliba.services.workspaces import Access


def find(session: Session, access: Access, code: str) -> Pipeline | None:
    return session.scalar(
        select(Pipeline).where(Pipeline.workspace_id == access.workspace.id, Pipeline.code == code)
    )


def get(session: Session, access: Access, code: str) -> Pipeline:
    pipeline = find(session, access, code)
    if pipeline is None:
        raise NotFound(f"pipeline '{code}' not found")
    return pipeline


def list_for(
    session: Session, access: Access, page: PageRequest, *, search: str = ""
) -> tuple[Sequence[Pipeline], int]:
    query = select(Pipeline).where(Pipeline.workspace_id == access.workspace.id)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(func.lower(Pipeline.name).like(like) | Pipeline.code.like(like))
    return paginate(session, query, page, Pipeline.code)


def latest_version(session: Session, pipeline: Pipeline) -> PipelineVersion | None:
    return session.scalar(
        select(PipelineVersion)
        .where(PipelineVersion.pipeline_id == pipeline.id)
        .order_by(PipelineVersion.number.desc())
        .limit(1)
    )


def latest_versions(
    session: Session, pipeline_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, PipelineVersion]:
    """The newest version of each pipeline, in one query (for lists)."""
    return newest_of_each(
        session, PipelineVersion, PipelineVersion.pipeline_id, PipelineVersion.number, pipeline_ids
    )


def last_run_states(session: Session, pipeline_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The state of each pipeline's most recent run, in one query (for lists)."""
    if not pipeline_ids:
        return {}
    ranked = (
        select(
            PipelineRun.pipeline_id,
            PipelineRun.state,
            func.row_number()
            .over(
                partition_by=PipelineRun.pipeline_id,
                order_by=(PipelineRun.queued_at.desc(), PipelineRun.id.desc()),
            )
            .label("rank"),
        )
        .where(PipelineRun.pipeline_id.in_(pipeline_ids))
        .subquery()
    )
    rows = session.execute(select(ranked.c.pipeline_id, ranked.c.state).where(ranked.c.rank == 1))
    return {pipeline_id: state for pipeline_id, state in rows}


def get_version(session: Session, pipeline: Pipeline, number: int | None) -> PipelineVersion:
    """Version ``number``, or the latest when None."""
    if number is None:
        version = latest_version(session, pipeline)
        if version is None:
            raise NotFound(f"pipeline '{pipeline.code}' has no version yet")
        return version
    version = None
    if abs(number) <= MAX_INT:  # a larger number is no version, and no value for the database
        version = session.scalar(
            select(PipelineVersion).where(
                PipelineVersion.pipeline_id == pipeline.id, PipelineVersion.number == number
            )
        )
    if version is None:
        raise NotFound(f"pipeline '{pipeline.code}' has no version {number}")
    return version


def list_versions(
    session: Session, pipeline: Pipeline, page: PageRequest
) -> tuple[Sequence[PipelineVersion], int]:
    query = select(PipelineVersion).where(PipelineVersion.pipeline_id == pipeline.id)
    return paginate(session, query, page, PipelineVersion.number.desc())


def _clean_spec(spec: dict[str, Any]) -> tuple[str, str, int | None, int, float, list[Any]]:
    """Check what the inspector reported, as untrusted input (it ran user code)."""
    name = spec.get("name")
    function = spec.get("function")
    if not isinstance(function, str) or not function:
        raise Invalid("pipeline.py: the inspector did not report the pipeline function")
    timeout = spec.get("timeout")
    retries = spec.get("retries", 0)
    delay = spec.get("retry_delay", 60)
    if timeout is not None and (not isinstance(timeout, int) or timeout < 1):
        raise Invalid("pipeline.py: timeout must be a positive number of seconds")
    if not isinstance(retries, int) or not 0 <= retries <= 20:
        raise Invalid("pipeline.py: retries must be between 0 and 20")
    if not isinstance(delay, int | float) or delay < 0:
        raise Invalid("pipeline.py: retry_delay must be zero or more seconds")
    parameters = [p.to_json() for p in specs_from_json(spec.get("parameters", []))]
    label = check_name(name if isinstance(name, str) and name.strip() else function)
    return label, function, timeout, retries, float(delay), parameters


def create_version(
    session: Session, access: Access, *, code: str, source: VersionSource, message: str = ""
) -> PipelineVersion:
    """Add a version to pipeline ``code``, creating the pipeline on its first push."""
    access.demand(Action.PIPELINE_WRITE)
    code = check_slug(code, field="code")
    name, function, timeout, retries, delay, parameters = _clean_spec(source.spec)
    pipeline = find(session, access, code)
    if pipeline is None:
        pipeline = Pipeline(
            workspace_id=access.workspace.id,
            code=code,
            name=name,
            created_by_id=access.actor.user.id,
        )
        session.add(pipeline)
        session.flush()
    else:
        pipeline.name = name
    # Per-pipeline numbering; the unique constraint turns a race into an error, not a duplicate.
    last = session.scalar(
        select(func.max(PipelineVersion.number)).where(PipelineVersion.pipeline_id == pipeline.id)
    )
    version = PipelineVersion(
        pipeline_id=pipeline.id,
        number=(last or 0) + 1,
        message=message.strip()[:10_000],
        archive_sha256=source.archive_sha256,
        archive_size=source.archive_size,
        requirements_sha256=source.requirements_sha256,
        function=function,
        parameters=parameters,
        timeout_seconds=timeout,
        retries=retries,
        retry_delay_seconds=delay,
        created_by_id=access.actor.user.id,
    )
    session.add(version)
    session.flush()
    audit.record(
        session,
        "pipeline.push",
        actor=access.actor,
        workspace=access.workspace,
        target=f"{code} v{version.number}",
        details={"archive_sha256": source.archive_sha256, "size": source.archive_size},
    )
    return version


def delete(session: Session, access: Access, code: str) -> None:
    access.demand(Action.PIPELINE_DELETE)
    pipeline = get(session, access, code)
    session.delete(pipeline)
    session.flush()
    audit.record(
        session, "pipeline.delete", actor=access.actor, workspace=access.workspace, target=code
    )


def set_limits(
    session: Session,
    access: Access,
    code: str,
    limits: dict[str, int | None],
    *,
    instance: dict[str, int],
) -> Pipeline:
    """Replace the pipeline's resource limits (None: the instance's).

    A workspace admin may only tighten the instance's limits (a value above one, or 0 for
    none where the instance has one, is refused); an instance admin may set any.
    """
    access.demand(Action.PIPELINE_LIMITS)
    pipeline = get(session, access, code)
    chosen = {name: value for name, value in limits.items() if value is not None}
    if not access.actor.is_superuser:
        for name, value in chosen.items():
            ceiling = instance.get(name, 0)
            if ceiling and (value == 0 or value > ceiling):
                raise Invalid(
                    f"{name}: at most {ceiling}, the instance's limit (an instance admin may "
                    "set more)",
                    details={"field": name},
                )
    pipeline.limits = chosen
    session.flush()
    audit.record(
        session,
        "pipeline.limits",
        actor=access.actor,
        workspace=access.workspace,
        target=code,
        details=dict(chosen),
    )
    return pipeline


def last_runs(session: Session, pipeline: Pipeline, limit: int = 30) -> Sequence[PipelineRun]:
    return session.scalars(
        select(PipelineRun)
        .where(PipelineRun.pipeline_id == pipeline.id)
        .order_by(PipelineRun.queued_at.desc())
        .limit(limit)
    ).all()
