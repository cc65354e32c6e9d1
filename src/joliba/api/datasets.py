"""Datasets: create and list them, draft versions, stream files in and out, publish."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from joliba.api.files import WRITE_BUFFER
from joliba.db.tables import DatasetVersion as VersionRow
from joliba.domain.datasets import check_file_name, check_sha256
from joliba.domain.errors import Conflict, Invalid, TooLarge
from joliba.domain.numbers import MAX_BIGINT
from joliba.domain.permissions import Action
from joliba.http.deps import Paging, PlatformDep, ReadDB, WriteDB, page_of, require
from joliba.http.downloads import RAW_UPLOAD, download_headers
from joliba.http.views import (
    dataset_version_view,
    dataset_version_views,
    dataset_view,
    dataset_views,
)
from joliba.schemas.common import Page
from joliba.schemas.datasets import (
    Dataset,
    DatasetCreate,
    DatasetFile,
    DatasetVersion,
    UploadState,
    VersionCreate,
)
from joliba.services import dataset_publishing, dataset_reading, datasets
from joliba.services.platform import Platform
from joliba.services.workspaces import Access
from joliba.storage import resumable
from joliba.storage.blobs import HashMismatch

router = APIRouter(tags=["datasets"])
BASE = "/workspaces/{ws}/datasets"
VERSION = BASE + "/{slug}/versions/{version}"


@router.get(BASE, response_model=Page[Dataset], summary="List datasets")
def list_datasets(
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
    page: Paging,
    search: Annotated[str, Query(max_length=200)] = "",
    tag: Annotated[str, Query(max_length=50)] = "",
) -> Page[Dataset]:
    rows, total = datasets.list_for(session, access, page, search=search, tag=tag.lower())
    return page_of(dataset_views(session, access, rows), page, total)


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
    view = dataset_view(session, access, dataset)
    return view


@router.get(BASE + "/{slug}", response_model=Dataset, summary="A dataset")
def get_dataset(
    slug: str,
    access: Annotated[Access, Depends(require(Action.DATASET_READ))],
    session: ReadDB,
) -> Dataset:
    return dataset_view(session, access, datasets.get(session, access, slug))


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
    dataset = datasets.get(session, access, slug)
    rows, total = datasets.list_versions(
        session, dataset, page, drafts=datasets.sees_drafts(access, dataset)
    )
    return page_of(dataset_version_views(session, rows, with_files=False), page, total)


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
    dataset = datasets.get(session, access, slug, owned=True)
    version = datasets.create_version(
        session, access, dataset, name=body.name, changelog=body.changelog
    )
    view = dataset_version_view(session, version)
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
    drafts = datasets.sees_drafts(access, dataset)
    return dataset_version_view(
        session, datasets.get_version(session, dataset, version, drafts=drafts)
    )


@router.delete(VERSION, status_code=204, summary="Delete a draft (published versions stay)")
def delete_draft(
    slug: str,
    version: str,
    access: Annotated[Access, Depends(require(Action.DATASET_WRITE))],
    session: WriteDB,
) -> Response:
    dataset = datasets.get(session, access, slug, owned=True)
    datasets.delete_draft(session, access, dataset, datasets.get_version(session, dataset, version))
    return Response(status_code=204)


@router.post(VERSION + "/publish", response_model=DatasetVersion, summary="Publish a draft")
def publish_version(
    slug: str,
    version: str,
    access: Annotated[Access, Depends(require(Action.DATASET_WRITE, write=False))],
    session: ReadDB,
    platform: PlatformDep,
) -> DatasetVersion:
    session.close()  # the use case checks storage with no transaction open
    published = dataset_publishing.publish(
        platform, access.actor, access.workspace.slug, slug, version
    )
    with platform.db.session(write=False) as fresh:
        return dataset_version_view(fresh, fresh.get_one(VersionRow, published.id))


@router.get(
    VERSION + "/files/{name}/upload",
    response_model=UploadState,
    summary="How much of a broken upload the server holds (resume from there)",
)
def upload_state(
    slug: str,
    version: str,
    name: str,
    sha256: Annotated[str, Query(description="The SHA-256 announced for the file")],
    access: Annotated[Access, Depends(require(Action.DATASET_WRITE, write=False))],
    session: ReadDB,
    platform: PlatformDep,
) -> UploadState:
    draft = datasets.get_version(session, datasets.get(session, access, slug, owned=True), version)
    datasets.check_draft(draft)
    key = resumable.key_of(str(draft.id), check_file_name(name), check_sha256(sha256))
    return UploadState(received=resumable.received(_uploads(platform), key))


@router.put(
    VERSION + "/files/{name}",
    status_code=201,
    response_model=DatasetFile,
    summary="Upload a file into a draft (the raw body, streamed; X-Content-SHA256 is checked "
    "and makes the upload resumable with X-Upload-Offset)",
    openapi_extra=RAW_UPLOAD,
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
    offset: Annotated[
        int,
        Header(
            alias="X-Upload-Offset",
            ge=0,
            le=MAX_BIGINT,
            description="Resume a broken upload: the bytes the server already holds",
        ),
    ] = 0,
) -> DatasetFile:
    name = check_file_name(name)
    expected = check_sha256(content_sha256) if content_sha256 else None
    if offset and expected is None:
        raise Invalid(
            "X-Upload-Offset needs X-Content-SHA256 (only announced content can resume)",
            details={"field": "X-Upload-Offset"},
        )
    draft = datasets.get_version(session, datasets.get(session, access, slug, owned=True), version)
    datasets.check_draft(draft)
    draft_id = str(draft.id)
    session.close()  # no transaction stays open while the body streams in
    limit = platform.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if limit and declared.isdigit() and offset + int(declared) > limit:
        raise TooLarge(f"the file is larger than the limit of {limit} bytes")
    if expected is None:
        sha256, size = await _plain_upload(request, platform, limit)
    else:
        key = resumable.key_of(draft_id, name, expected)
        sha256, size = await _resumable_upload(request, platform, limit, key, offset, expected)
    row = await run_in_threadpool(
        lambda: dataset_publishing.record_file(
            platform,
            access.actor,
            access.workspace.slug,
            slug=slug,
            version=version,
            name=name,
            sha256=sha256,
            size=size,
        )
    )
    return DatasetFile.model_validate(row)


async def _plain_upload(request: Request, platform: Platform, limit: int) -> tuple[str, int]:
    upload = await run_in_threadpool(platform.store.blobs().begin)
    try:
        await _stream_into(request, upload, limit, 0)
        return await run_in_threadpool(upload.commit), upload.size
    except BaseException:
        await run_in_threadpool(upload.abort)
        raise


async def _resumable_upload(
    request: Request, platform: Platform, limit: int, key: str, offset: int, expected: str
) -> tuple[str, int]:
    try:
        upload = await run_in_threadpool(resumable.ResumableUpload, _uploads(platform), key, offset)
    except resumable.OffsetMismatch as exc:
        raise Conflict(str(exc), details={"received": exc.received}) from None
    except resumable.UploadBusy as exc:
        raise Conflict(str(exc), details={"busy": True}) from None
    try:
        await _stream_into(request, upload, limit, offset)
        sha256 = await run_in_threadpool(upload.commit, platform.store.blobs(), expected)
    except HashMismatch as exc:
        raise Invalid(str(exc), details={"field": "X-Content-SHA256"}) from None
    except TooLarge:
        await run_in_threadpool(upload.discard)
        raise
    finally:
        await run_in_threadpool(upload.close)  # a broken connection keeps what arrived
    return sha256, upload.size


class _Sink(Protocol):
    size: int

    def write(self, chunk: bytes) -> None: ...


async def _stream_into(request: Request, upload: _Sink, limit: int, offset: int) -> None:
    """The body, written in large chunks from a worker thread (memory stays flat)."""
    buffer = bytearray()
    try:
        async for chunk in request.stream():
            buffer.extend(chunk)
            if len(buffer) >= WRITE_BUFFER:
                await run_in_threadpool(upload.write, bytes(buffer))
                buffer.clear()
            if limit and upload.size + len(buffer) > limit:
                raise TooLarge(f"the file is larger than the limit of {limit} bytes")
    except ClientDisconnect:
        if buffer:  # keep every byte that arrived, so a resumable upload continues after it
            await run_in_threadpool(upload.write, bytes(buffer))
        raise Invalid("the connection broke before the whole file arrived") from None
    if buffer:
        await run_in_threadpool(upload.write, bytes(buffer))


def _uploads(platform: Platform) -> Path:
    return platform.settings.runtime_dir / "uploads"


@router.get(
    VERSION + "/files/{name}",
    response_class=StreamingResponse,
    summary="Download a file as stored (logged in the access log)",
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
    session.close()  # the download authorises again; no transaction is open while it streams
    read = dataset_reading.download(
        platform, access.actor, access.workspace.slug, slug, version, name
    )
    return StreamingResponse(
        read.chunks,
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(read.size),
            "ETag": f'"{read.sha256}"',
            **download_headers(read.source.file),
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
    dataset = datasets.get(session, access, slug, owned=True)
    datasets.delete_file(session, datasets.get_version(session, dataset, version), name)
    return Response(status_code=204)
