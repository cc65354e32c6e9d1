"""Datasets: create and list them, draft versions, stream files in and out, publish."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from joliba.api.deps import Paging, PlatformDep, ReadDB, WriteDB, page_of, require
from joliba.api.downloads import RAW_UPLOAD, download_headers
from joliba.api.files import WRITE_BUFFER
from joliba.db.tables import Dataset as DatasetRow
from joliba.db.tables import DatasetFile as FileRow
from joliba.db.tables import DatasetVersion as VersionRow
from joliba.db.tables import User
from joliba.domain.datasets import check_file_name, check_sha256
from joliba.domain.errors import Conflict, Invalid, NotFound, TooLarge
from joliba.domain.numbers import MAX_BIGINT
from joliba.domain.permissions import Action
from joliba.schemas.common import Page
from joliba.schemas.datasets import (
    Dataset,
    DatasetCreate,
    DatasetFile,
    DatasetVersion,
    UploadState,
    VersionCreate,
)
from joliba.services import dataset_access, dataset_triggers, datasets, workspaces
from joliba.services.dataset_access import ReadKind
from joliba.services.platform import Platform
from joliba.services.workspaces import Access
from joliba.storage import resumable
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


def dataset_view(session: Session, access: Access, dataset: DatasetRow) -> Dataset:
    try:
        latest = version_view(session, datasets.get_version(session, dataset, "latest"))
    except NotFound:
        latest = None
    owned = dataset.workspace_id == access.workspace.id
    return Dataset(
        id=dataset.id,
        ref=datasets.ref_of(access, dataset),
        workspace=dataset.workspace.slug,
        shared=not owned,
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
    return page_of([dataset_view(session, access, d) for d in rows], page, total)


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
    session.commit()
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
    dataset = datasets.get(session, access, slug, owned=True)
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
    drafts = datasets.sees_drafts(access, dataset)
    return version_view(session, datasets.get_version(session, dataset, version, drafts=drafts))


@router.delete(VERSION, status_code=204, summary="Delete a draft (published versions stay)")
def delete_draft(
    slug: str,
    version: str,
    access: Annotated[Access, Depends(require(Action.DATASET_WRITE))],
    session: WriteDB,
) -> Response:
    dataset = datasets.get(session, access, slug, owned=True)
    datasets.delete_draft(session, access, dataset, datasets.get_version(session, dataset, version))
    session.commit()
    return Response(status_code=204)


@router.post(VERSION + "/publish", response_model=DatasetVersion, summary="Publish a draft")
def publish_version(
    slug: str,
    version: str,
    access: Annotated[Access, Depends(require(Action.DATASET_WRITE, write=False))],
    session: ReadDB,
    platform: PlatformDep,
) -> DatasetVersion:
    dataset = datasets.get(session, access, slug, owned=True)
    draft = datasets.get_version(session, dataset, version)
    datasets.check_draft(draft)
    blobs = platform.store.blobs()
    present = all(
        blobs.exists(f.sha256) and blobs.size(f.sha256) == f.size
        for f in datasets.files(session, draft)
    )
    session.close()  # the storage checks above ran outside any write transaction
    with platform.db.transaction() as tx:
        fresh = workspaces.authorize(tx, access.actor, access.workspace.slug, Action.DATASET_WRITE)
        dataset = datasets.get(tx, fresh, slug, owned=True)
        published = datasets.publish(
            tx, fresh, dataset, datasets.get_version(tx, dataset, version), present=present
        )
        started = dataset_triggers.fire(
            tx,
            platform.box,
            dataset,
            published,
            default_timeout=platform.settings.run_timeout_seconds,
        )
        view = version_view(tx, published)
    if started:
        platform.signals.queued()
    return view


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
    row = await run_in_threadpool(_record_file, platform, access, slug, version, name, sha256, size)
    platform.profiles_waiting.set()
    return row


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
        draft = datasets.get_version(
            session, datasets.get(session, fresh, slug, owned=True), version
        )
        row = datasets.put_file(session, fresh, draft, name=name, sha256=sha256, size=size)
        return DatasetFile.model_validate(row)


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
    dataset, chosen, row = readable_file(session, access, slug, version, name)
    sha256, size, shown = row.sha256, row.size, row.name
    log_read(
        platform, access, dataset, ReadKind.DOWNLOAD, version=chosen.name, file=shown, size=size
    )
    return StreamingResponse(
        platform.store.blobs().read_chunks(sha256),
        media_type="application/octet-stream",
        headers={"Content-Length": str(size), "ETag": f'"{sha256}"', **download_headers(shown)},
    )


def readable_file(
    session: Session, access: Access, slug: str, version: str, name: str
) -> tuple[DatasetRow, VersionRow, FileRow]:
    """A file of a version the caller may read (shares and dataset tokens: published only)."""
    dataset = datasets.get(session, access, slug)
    chosen = datasets.get_version(
        session, dataset, version, drafts=datasets.sees_drafts(access, dataset)
    )
    return dataset, chosen, datasets.get_file(session, chosen, name)


def log_read(
    platform: Platform,
    access: Access,
    dataset: DatasetRow,
    kind: ReadKind,
    *,
    version: str,
    file: str = "",
    rows: int | None = None,
    size: int | None = None,
) -> None:
    """One entry in the dataset's access log, in its own short transaction."""
    with platform.db.transaction() as tx:
        dataset_access.record(
            tx,
            access,
            dataset,
            kind=kind,
            version=version,
            file=file,
            rows=rows,
            size=size,
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
    session.commit()
    return Response(status_code=204)
