"""Workspace files: every operation checks the path and the actor's role, and deletions and
downloads are audited."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy.orm import Session

from joliba.domain.errors import Conflict, Invalid, NotFound, TooLarge
from joliba.domain.paths import clean_path, parent_of
from joliba.domain.permissions import Action
from joliba.services import audit, quotas
from joliba.services.workspaces import Access
from joliba.storage.files import Entry, Upload, WorkspaceFiles
from joliba.storage.objects import ObjectStore


def files_of(store: ObjectStore, access: Access) -> WorkspaceFiles:
    return store.workspace_files(access.workspace.id)


def list_folder(store: ObjectStore, access: Access, path: str) -> list[Entry]:
    path = clean_path(path, allow_root=True)
    files = files_of(store, access)
    kind = files.kind(path)
    if kind is None:
        raise NotFound(f"folder '{path}' not found")
    if kind == "file":
        raise Invalid(f"path: '{path}' is a file, not a folder", details={"field": "path"})
    return files.list(path)


@dataclass(frozen=True)
class Download:
    path: str
    size: int
    chunks: Iterator[bytes]


def download(session: Session, store: ObjectStore, access: Access, path: str) -> Download:
    path = clean_path(path)
    files = files_of(store, access)
    if files.kind(path) != "file":
        raise NotFound(f"file '{path}' not found")
    size = files.size(path)
    audit.record(
        session,
        "file.download",
        actor=access.actor,
        workspace=access.workspace,
        target=path,
        details={"bytes": size},
    )
    return Download(path=path, size=size, chunks=files.read_chunks(path))


class UploadTarget:
    """Checks done before the first byte is read; the edge streams the body into ``upload``."""

    def __init__(
        self,
        store: ObjectStore,
        access: Access,
        path: str,
        *,
        overwrite: bool,
        default_quota_mb: int = 0,
    ) -> None:
        self.path = clean_path(path)
        self.files = files_of(store, access)
        self.access = access
        existing = self.files.kind(self.path)
        if existing == "folder":
            raise Conflict(f"path: '{self.path}' is a folder", details={"field": "path"})
        if existing == "file" and not overwrite:
            raise Conflict(
                f"path: '{self.path}' exists; pass overwrite=true to replace it",
                details={"field": "path"},
            )
        self.replaced = existing == "file"
        self._check_parents()
        usage = quotas.usage(store, access.workspace, default_quota_mb)
        self.quota_mb = usage.quota_mb
        self.room = usage.room
        if self.room is not None and self.replaced:
            self.room += self.files.size(self.path)  # the old content goes away
        if self.room == 0:  # already full: refuse before reading any of the body
            quotas.check_room(self.room, self.quota_mb, 1)

    def check_room(self, written: int) -> None:
        """Refuse the upload once it would take the workspace past its disk quota."""
        quotas.check_room(self.room, self.quota_mb, written)

    def _check_parents(self) -> None:
        parent = parent_of(self.path)
        while parent:
            if self.files.kind(parent) == "file":
                raise Conflict(
                    f"path: '{parent}' is a file, so it cannot hold '{self.path}'",
                    details={"field": "path"},
                )
            parent = parent_of(parent)

    def begin(self) -> Upload:
        return self.files.begin_upload(self.path)


def check_size(upload: Upload, limit: int) -> None:
    if limit and upload.size > limit:
        raise TooLarge(f"the file is larger than the limit of {limit} bytes")


def record_upload(session: Session, target: UploadTarget, size: int) -> None:
    audit.record(
        session,
        "file.upload",
        actor=target.access.actor,
        workspace=target.access.workspace,
        target=target.path,
        details={"bytes": size, "replaced": target.replaced},
    )


def make_folder(store: ObjectStore, access: Access, path: str) -> str:
    access.demand(Action.FILE_WRITE)
    path = clean_path(path)
    files = files_of(store, access)
    kind = files.kind(path)
    if kind == "file":
        raise Conflict(f"path: '{path}' is a file", details={"field": "path"})
    if kind == "folder":
        raise Conflict(f"path: folder '{path}' exists", details={"field": "path"})
    files.make_folder(path)
    return path


def move(store: ObjectStore, access: Access, source: str, destination: str) -> tuple[str, str]:
    """Move or rename; returns the kind ('file' or 'folder') and the new path."""
    access.demand(Action.FILE_WRITE)
    source = clean_path(source, field="source")
    destination = clean_path(destination, field="destination")
    files = files_of(store, access)
    kind = files.kind(source)
    if kind is None:
        raise NotFound(f"'{source}' not found")
    if destination == source or destination.startswith(source + "/"):
        raise Invalid(
            "destination: cannot move a folder into itself", details={"field": "destination"}
        )
    if files.kind(destination) is not None:
        raise Conflict(f"destination: '{destination}' exists", details={"field": "destination"})
    files.move(source, destination)
    return kind, destination


def delete(session: Session, store: ObjectStore, access: Access, path: str) -> None:
    access.demand(Action.FILE_DELETE)
    path = clean_path(path)
    files = files_of(store, access)
    kind = files.kind(path)
    if kind is None:
        raise NotFound(f"'{path}' not found")
    files.delete(path)
    audit.record(
        session,
        "file.delete",
        actor=access.actor,
        workspace=access.workspace,
        target=path,
        details={"type": kind},
    )
