"""Pipelines and versions: list, push an archive, inspect, delete."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from joliba.domain.errors import TooLarge
from joliba.domain.permissions import Action
from joliba.domain.run_limits import Limits
from joliba.domain.slugs import check_slug
from joliba.http.deps import Paging, PlatformDep, ReadDB, WriteDB, page_of, require
from joliba.http.views import pipeline_view, pipeline_views, version_view
from joliba.schemas.common import Page
from joliba.schemas.pipelines import Pipeline, RunLimits, Version
from joliba.services import pipeline_pushes, pipelines
from joliba.services.workspaces import Access

router = APIRouter(tags=["pipelines"])


@router.get("/workspaces/{ws}/pipelines", response_model=Page[Pipeline], summary="List pipelines")
def list_pipelines(
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
    page: Paging,
    search: Annotated[str, Query(max_length=200)] = "",
) -> Page[Pipeline]:
    rows, total = pipelines.list_for(session, access, page, search=search)
    return page_of(pipeline_views(session, rows), page, total)


@router.get("/workspaces/{ws}/pipelines/{code}", response_model=Pipeline, summary="A pipeline")
def get_pipeline(
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
) -> Pipeline:
    return pipeline_view(session, pipelines.get(session, access, code))


@router.put(
    "/workspaces/{ws}/pipelines/{code}/limits",
    response_model=Pipeline,
    summary="Set the resource limits of a pipeline's runs",
)
def set_limits(
    code: str,
    body: RunLimits,
    access: Annotated[Access, Depends(require(Action.PIPELINE_LIMITS))],
    session: WriteDB,
    platform: PlatformDep,
) -> Pipeline:
    instance = asdict(Limits.from_settings(platform.settings))
    pipeline = pipelines.set_limits(session, access, code, body.model_dump(), instance=instance)
    return pipeline_view(session, pipeline)


@router.delete(
    "/workspaces/{ws}/pipelines/{code}",
    status_code=204,
    summary="Delete a pipeline with its versions and runs",
)
def delete_pipeline(
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_DELETE))],
    session: WriteDB,
) -> Response:
    pipelines.delete(session, access, code)
    return Response(status_code=204)


@router.get(
    "/workspaces/{ws}/pipelines/{code}/versions",
    response_model=Page[Version],
    summary="List a pipeline's versions, newest first",
)
def list_versions(
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
    page: Paging,
) -> Page[Version]:
    pipeline = pipelines.get(session, access, code)
    rows, total = pipelines.list_versions(session, pipeline, page)
    return page_of([version_view(v) for v in rows], page, total)


@router.get(
    "/workspaces/{ws}/pipelines/{code}/versions/{number}",
    response_model=Version,
    summary="One version",
)
def get_version(
    code: str,
    number: int,
    access: Annotated[Access, Depends(require(Action.PIPELINE_READ))],
    session: ReadDB,
) -> Version:
    pipeline = pipelines.get(session, access, code)
    return version_view(pipelines.get_version(session, pipeline, number))


@router.post(
    "/workspaces/{ws}/pipelines/{code}/versions",
    status_code=201,
    response_model=Version,
    summary="Push a version: the request body is a zip of the pipeline folder",
    openapi_extra={"requestBody": {"content": {"application/zip": {"schema": {"type": "string"}}}}},
)
async def push_version(
    request: Request,
    code: str,
    access: Annotated[Access, Depends(require(Action.PIPELINE_WRITE, write=False))],
    session: ReadDB,
    platform: PlatformDep,
    message: Annotated[str, Query(max_length=10_000, description="What changed")] = "",
) -> Version:
    # No transaction stays open while the archive streams in and its environment builds.
    session.close()
    code = check_slug(code, field="code")
    limit = platform.settings.max_pipeline_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the archive is larger than the limit of {limit} bytes")
    scratch = Path(await run_in_threadpool(tempfile.mkdtemp, prefix="joliba-upload-"))
    try:
        archive = scratch / "pipeline.zip"
        size = 0
        with archive.open("wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"the archive is larger than the limit of {limit} bytes")
                await run_in_threadpool(out.write, chunk)
        version = await run_in_threadpool(
            lambda: pipeline_pushes.push(
                platform,
                access.actor,
                access.workspace.slug,
                code=code,
                archive=archive,
                message=message,
            )
        )
        return version_view(version)
    finally:
        await run_in_threadpool(shutil.rmtree, scratch, True)
