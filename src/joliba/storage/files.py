"""A workspace's files inside the object store: list, stream in and out, folders, move, delete.

Paths given here are already cleaned by ``joliba.domain.paths.clean_path``; this module only
joins them under the workspace root. Uploads never leave a partial file visible: on a local
disk they are written to a temporary file and renamed; on S3 a multipart upload only becomes
an object when completed, and is aborted on failure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from joliba.domain.paths import FOLDER_MARKER, name_of

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Entry:
    path: str
    name: str
    type: str  # "file" | "folder"
    size: int | None
    modified: datetime | None


class Upload:
    """A file being written; ``commit`` makes it visible, ``abort`` throws it away."""

    def __init__(self, fs: Any, final: str, *, is_local: bool, tmp_root: str) -> None:
        self._fs = fs
        self._final = final
        self._tmp: str | None = None
        self.size = 0
        if is_local:
            fs.makedirs(tmp_root, exist_ok=True)
            self._tmp = f"{tmp_root}/{uuid.uuid4().hex}"
            self._file: BinaryIO = fs.open(self._tmp, "wb")
        else:
            self._file = fs.open(final, "wb")

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self.size += len(chunk)

    def commit(self) -> None:
        self._file.close()
        if self._tmp is not None:
            parent = self._final.rsplit("/", 1)[0]
            self._fs.makedirs(parent, exist_ok=True)
            self._fs.mv(self._tmp, self._final)

    def abort(self) -> None:
        if self._tmp is not None:
            self._file.close()
            self._fs.rm(self._tmp)
            return
        discard = getattr(self._file, "discard", None)
        if discard is not None:
            discard()  # aborts the S3 multipart upload; closing would complete it
        # Mark it closed so that garbage collection does not try to finish the upload.
        self._file.closed = True  # type: ignore[misc]


class WorkspaceFiles:
    def __init__(self, fs: Any, root: str, *, is_local: bool, tmp_root: str) -> None:
        self.fs = fs
        self.root = root
        self.is_local = is_local
        self.tmp_root = tmp_root

    def _full(self, path: str) -> str:
        return f"{self.root}/{path}" if path else self.root

    def kind(self, path: str) -> str | None:
        """'file', 'folder' or None when nothing is there."""
        full = self._full(path)
        if not path:
            return "folder"
        if self.fs.isfile(full):
            return "file"
        if self.fs.isdir(full):
            return "folder"
        return None

    def list(self, path: str) -> list[Entry]:
        full = self._full(path)
        if not path and not self.fs.exists(full):
            return []
        entries = []
        for info in self.fs.ls(full, detail=True):
            name = name_of(str(info["name"]).rstrip("/"))
            if name == FOLDER_MARKER or not name:
                continue
            is_dir = info.get("type") == "directory"
            entries.append(
                Entry(
                    path=f"{path}/{name}" if path else name,
                    name=name,
                    type="folder" if is_dir else "file",
                    size=None if is_dir else int(info.get("size") or 0),
                    modified=_modified(info),
                )
            )
        entries.sort(key=lambda e: (e.type != "folder", e.name.lower()))
        return entries

    def size(self, path: str) -> int:
        return int(self.fs.size(self._full(path)))

    def read_chunks(self, path: str, chunk: int = CHUNK) -> Iterator[bytes]:
        with self.fs.open(self._full(path), "rb") as handle:
            while True:
                data = handle.read(chunk)
                if not data:
                    return
                yield data

    def begin_upload(self, path: str) -> Upload:
        return Upload(self.fs, self._full(path), is_local=self.is_local, tmp_root=self.tmp_root)

    def make_folder(self, path: str) -> None:
        full = self._full(path)
        if self.is_local:
            self.fs.makedirs(full, exist_ok=True)
        else:
            # Object stores have no folders: a marker object makes an empty one exist.
            self.fs.pipe_file(f"{full}/{FOLDER_MARKER}", b"")

    def move(self, source: str, destination: str) -> None:
        src, dst = self._full(source), self._full(destination)
        parent = dst.rsplit("/", 1)[0]
        if self.is_local:
            self.fs.makedirs(parent, exist_ok=True)
        self.fs.mv(src, dst, recursive=True)

    def delete(self, path: str) -> None:
        self.fs.rm(self._full(path), recursive=True)


def _modified(info: dict[str, Any]) -> datetime | None:
    value = info.get("mtime") or info.get("LastModified") or info.get("created")
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    return None
