"""Workspace files: list, streaming upload and download, folders, moves, deletion."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from joliba.domain.errors import TooLarge
from joliba.domain.paths import name_of
from joliba.domain.permissions import Action
from joliba.http.deps import Paging, PlatformDep, ReadDB, WriteDB, page_of, require
from joliba.http.downloads import (
    RAW_UPLOAD,
    content_disposition,
    download_headers,
    media_type,
)
from joliba.schemas.common import Page
from joliba.schemas.files import FileEntry, FileMove, FileWritten, FolderCreate
from joliba.services import files
from joliba.services.platform import Platform
from joliba.services.workspaces import Access

# content_disposition stays importable from here for the other download routes.
__all__ = ["WRITE_BUFFER", "content_disposition", "router"]

router = APIRouter(tags=["files"])
#: Bytes gathered before one write to storage (fewer thread hops, bounded memory).
WRITE_BUFFER = 1024 * 1024


@router.get("/workspaces/{ws}/files", response_model=Page[FileEntry], summary="List a folder")
def list_files(
    access: Annotated[Access, Depends(require(Action.FILE_READ))],
    session: ReadDB,
    platform: PlatformDep,
    page: Paging,
    path: Annotated[str, Query(max_length=1024, description="Folder; empty for the root")] = "",
) -> Page[FileEntry]:
    entries = files.list_folder(platform.store, access, path)
    window = entries[page.offset : page.offset + page.limit]
    return page_of(
        [FileEntry.model_validate(e) for e in window],
        page,
        len(entries),
    )


@router.get(
    "/workspaces/{ws}/files/{path:path}",
    response_class=StreamingResponse,
    summary="Download a file (always as an attachment; see docs/api.md#downloads)",
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def download_file(
    path: str,
    access: Annotated[Access, Depends(require(Action.FILE_READ, write=True))],
    session: WriteDB,
    platform: PlatformDep,
) -> StreamingResponse:
    download = files.download(session, platform.store, access, path)
    session.commit()
    name = name_of(download.path)
    return StreamingResponse(
        download.chunks,
        media_type=media_type(name),
        headers={"Content-Length": str(download.size), **download_headers(name)},
    )


@router.put(
    "/workspaces/{ws}/files/{path:path}",
    status_code=201,
    response_model=FileWritten,
    summary="Upload a file (the raw request body, streamed)",
    openapi_extra=RAW_UPLOAD,
    responses={200: {"model": FileWritten, "description": "An existing file was replaced"}},
)
async def upload_file(
    request: Request,
    response: Response,
    path: str,
    access: Annotated[Access, Depends(require(Action.FILE_WRITE, write=False))],
    session: ReadDB,
    platform: PlatformDep,
    overwrite: Annotated[bool, Query(description="Replace an existing file")] = False,
) -> FileWritten:
    # Authorised in a read session that ends here: no transaction stays open while the body
    # streams in (on SQLite a write transaction would block every other writer meanwhile).
    session.close()
    limit = platform.settings.max_upload_bytes
    declared = request.headers.get("content-length", "")
    if limit and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the file is larger than the limit of {limit} bytes")
    target = await run_in_threadpool(
        files.UploadTarget,
        platform.store,
        access,
        path,
        overwrite=overwrite,
        default_quota_mb=platform.settings.workspace_quota_mb,
    )
    upload = await run_in_threadpool(target.begin)
    try:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer.extend(chunk)
            if len(buffer) >= WRITE_BUFFER:
                await run_in_threadpool(upload.write, bytes(buffer))
                buffer.clear()
                files.check_size(upload, limit)
                target.check_room(upload.size)
        if buffer:
            await run_in_threadpool(upload.write, bytes(buffer))
            files.check_size(upload, limit)
            target.check_room(upload.size)
        await run_in_threadpool(upload.commit)
    except BaseException:
        await run_in_threadpool(upload.abort)
        raise
    await run_in_threadpool(_record_upload, platform, target, upload.size)
    if target.replaced:
        response.status_code = 200
    return FileWritten(path=target.path, size=upload.size, replaced=target.replaced)


def _record_upload(platform: Platform, target: files.UploadTarget, size: int) -> None:
    with platform.db.transaction() as session:
        files.record_upload(session, target, size)


@router.delete(
    "/workspaces/{ws}/files/{path:path}", status_code=204, summary="Delete a file or folder"
)
def delete_file(
    path: str,
    access: Annotated[Access, Depends(require(Action.FILE_DELETE))],
    session: WriteDB,
    platform: PlatformDep,
) -> Response:
    files.delete(session, platform.store, access, path)
    return Response(status_code=204)


@router.post(
    "/workspaces/{ws}/folders", status_code=201, response_model=FileEntry, summary="New folder"
)
def create_folder(
    body: FolderCreate,
    access: Annotated[Access, Depends(require(Action.FILE_WRITE, write=False))],
    platform: PlatformDep,
) -> FileEntry:
    path = files.make_folder(platform.store, access, body.path)
    return FileEntry(path=path, name=name_of(path), type="folder", size=None, modified=None)


@router.post("/workspaces/{ws}/file-moves", response_model=FileEntry, summary="Move or rename")
def move_file(
    body: FileMove,
    access: Annotated[Access, Depends(require(Action.FILE_WRITE, write=False))],
    platform: PlatformDep,
) -> FileEntry:
    kind, path = files.move(platform.store, access, body.source, body.destination)
    return FileEntry(path=path, name=name_of(path), type=kind, size=None, modified=None)
