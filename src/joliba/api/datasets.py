"""Datasets: create and list them, draft versions, stream files in and out, publish."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from joliba.api.deps import Paging, PlatformDep, ReadDB, WriteDB, page_of, require
from joliba.api.files import WRITE_BUFFER, content_disposition
from joliba.db.tables import Dataset as DatasetRow
from joliba.db.tables import DatasetVersion as VersionRow
from joliba.db.tables import User
from joliba.domain.datasets import check_file_name, check_sha256
from joliba.domain.errors import Invalid, NotFound, TooLarge
from joliba.domain.permissions import Action
from joliba.schemas.common import Page
from joliba.schemas.datasets import (
    Dataset,
    DatasetCreate,
    DatasetFile,
    DatasetVersion,
    VersionCreate,
)
from joliba.services import datasets, workspaces
from joliba.services.platform import Platform
from joliba.services.workspaces import Access
from joliba.storage.blobs import HashMismatch

router = APIRouter(tags=["datasets"])
BASE = "/workspaces/{ws}/datasets"
VERSION = BASE + "/{slug}/versions/{version}"


def version_view(
    session: Session, version: VersionRow, *, with_files: bool = True
) -> DatasetVersion:
    author = session.get(User, version.author_id) if version.author_id else None
    rows = datasets.files(session, version) if with_files else []
    return DatasetVersion(
        id=version.id,
        number=version.number,
        name=version.name,
        changelog=version.changelog,
        state=version.state,
        author=author.email if author else None,
        author_run=version.author_run_id,
        created_at=version.created_at,
        published_at=version.published_at,
        files=[DatasetFile.model_validate(f) for f in rows],
    )


def dataset_view(session: Session, dataset: DatasetRow) -> Dataset:
    try:
        latest = version_view(session, datasets.get_version(session, dataset, "latest"))
    except NotFound:
        latest = None
    return Dataset(
        id=dataset.id,
        slug=dataset.slug,
        name=dataset.name,
        description=dataset.description,
        tags=list(dataset.tags),
        created_at=dataset.created_at,
        latest=latest,
    )


@router.get(BASE, response_model=Page[Dataset], summary="List datasets")
def list_datasets(
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
    page: Paging,
    search: Annotated[str, Query(max_length=200)] = "",
    tag: Annotated[str, Query(max_length=50)] = "",
) -> Page[Dataset]:
    rows, total = datasets.list_for(session, access, page, search=search, tag=tag.lower())
    return page_of([dataset_view(session, d) for d in rows], page, total)


@router.post(BASE, status_code=201, response_model=Dataset, summary="Create a dataset")
def create_dataset(
    body: DatasetCreate,
    access: Annotated[Access, Depends(require(Action.DATASET_WRITE))],
    session: WriteDB,
) -> Dataset:
    dataset = datasets.create(
        session,
        access,
        name=body.name,
        slug=body.slug,
        description=body.description,
        tags=body.tags,
    )
    view = dataset_view(session, dataset)
    session.commit()
    return view


@router.get(BASE + "/{slug}", response_model=Dataset, summary="A dataset")
def get_dataset(
    slug: str,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
) -> Dataset:
    return dataset_view(session, datasets.get(session, access, slug))


@router.get(
    BASE + "/{slug}/versions",
    response_model=Page[DatasetVersion],
    summary="A dataset's versions, newest first",
)
def list_versions(
    slug: str,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
    page: Paging,
) -> Page[DatasetVersion]:
    rows, total = datasets.list_versions(session, datasets.get(session, access, slug), page)
    return page_of([version_view(session, v, with_files=False) for v in rows], page, total)


@router.post(
    BASE + "/{slug}/versions",
    status_code=201,
    response_model=DatasetVersion,
    summary="Start a draft version",
)
def create_version(
    slug: str,
    body: VersionCreate,
    access: Annotated[Access, Depends(require(Action.DATASET_WRITE))],
    session: WriteDB,
) -> DatasetVersion:
    dataset = datasets.get(session, access, slug)
    version = datasets.create_version(
        session, access, dataset, name=body.name, changelog=body.changelog
    )
    view = version_view(session, version)
    session.commit()
    return view


@router.get(
    VERSION,
    response_model=DatasetVersion,
    summary="A version (number, name or latest) with its files",
)
def get_version(
    slug: str,
    version: str,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
) -> DatasetVersion:
    dataset = datasets.get(session, access, slug)
    return version_view(session, datasets.get_version(session, dataset, version))


@router.post(VERSION + "/publish", response_model=DatasetVersion, summary="Publish a draft")
def publish_version(
    slug: str,
    version: str,
    access: Annotated[Access, Depends(require(Action.DATASET_WRITE, write=False))],
    session: ReadDB,
    platform: PlatformDep,
) -> DatasetVersion:
    dataset = datasets.get(session, access, slug)
    draft = datasets.get_version(session, dataset, version)
    datasets.check_draft(draft)
    blobs = platform.store.blobs()
    present = all(
        blobs.exists(f.sha256) and blobs.size(f.sha256) == f.size
        for f in datasets.files(session, draft)
    )
    session.close()
    with platform.db.transaction() as tx:
        fresh = workspaces.authorize(tx, access.actor, access.workspace.slug, Action.DATASET_WRITE)
        dataset = datasets.get(tx, fresh, slug)
        published = datasets.publish(
            tx, fresh, dataset, datasets.get_version(tx, dataset, version), present=present
        )
        return version_view(tx, published)


@router.put(
    VERSION + "/files/{name}",
    status_code=201,
    response_model=DatasetFile,
    summary="Upload a file into a draft (the raw body, streamed; X-Content-SHA256 is checked)",
)
async def upload_file(
    request: Request,
    slug: str,
    version: str,
    name: str,
    access: Annotated[Access, Depends(require(Action.DATASET_WRITE, write=False))],
    session: ReadDB,
    platform: PlatformDep,
    content_sha256: Annotated[
        str | None, Header(alias="X-Content-SHA256", description="Expected SHA-256 (hex)")
    ] = None,
) -> DatasetFile:
    name = check_file_name(name)
    expected = check_sha256(content_sha256) if content_sha256 else None
    datasets.check_draft(
        datasets.get_version(session, datasets.get(session, access, slug), version)
    )
    session.close()  # no transaction stays open while the body streams in
    limit = platform.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if limit and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the file is larger than the limit of {limit} bytes")
    upload = await run_in_threadpool(platform.store.blobs().begin)
    try:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer.extend(chunk)
            if len(buffer) >= WRITE_BUFFER:
                await run_in_threadpool(upload.write, bytes(buffer))
                buffer.clear()
            if limit and upload.size + len(buffer) > limit:
                raise TooLarge(f"the file is larger than the limit of {limit} bytes")
        if buffer:
            await run_in_threadpool(upload.write, bytes(buffer))
        sha256 = await run_in_threadpool(upload.commit, expected)
    except HashMismatch as exc:
        raise Invalid(str(exc), details={"field": "X-Content-SHA256"}) from None
    except BaseException:
        await run_in_threadpool(upload.abort)
        raise
    return await run_in_threadpool(
        _record_file, platform, access, slug, version, name, sha256, upload.size
    )


def _record_file(
    platform: Platform,
    access: Access,
    slug: str,
    version: str,
    name: str,
    sha256: str,
    size: int,
) -> DatasetFile:
    with platform.db.transaction() as session:
        fresh = workspaces.authorize(
            session, access.actor, access.workspace.slug, Action.DATASET_WRITE
        )
        draft = datasets.get_version(session, datasets.get(session, fresh, slug), version)
        row = datasets.put_file(session, fresh, draft, name=name, sha256=sha256, size=size)
        return DatasetFile.model_validate(row)


@router.get(
    VERSION + "/files/{name}",
    response_class=StreamingResponse,
    summary="Download a file",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_file(
    slug: str,
    version: str,
    name: str,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
    platform: PlatformDep,
) -> StreamingResponse:
    dataset = datasets.get(session, access, slug)
    row = datasets.get_file(session, datasets.get_version(session, dataset, version), name)
    return StreamingResponse(
        platform.store.blobs().read_chunks(row.sha256),
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(row.size),
            "Content-Disposition": content_disposition(row.name),
            "ETag": f'"{row.sha256}"',
        },
    )


@router.delete(VERSION + "/files/{name}", status_code=204, summary="Remove a file from a draft")
def delete_file(
    slug: str,
    version: str,
    name: str,
    access: Annotated[Access, Depends(require(Action.DATASET_WRITE))],
    session: WriteDB,
) -> Response:
    dataset = datasets.get(session, access, slug)
    datasets.delete_file(session, datasets.get_version(session, dataset, version), name)
    session.commit()
    return Response(status_code=204)
