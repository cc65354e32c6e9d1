"""Workspace files on the local disk, which pipeline runs write too: nothing a run leaves there
leads the server out of the folder.

A run writes the workspace's files with its own (sandboxed) rights, but the server serves,
moves and deletes them with the server's. A run can leave a symbolic link to the secret key
or to another workspace's folder, or a FIFO that blocks whoever opens it. So every operation
here walks its path one component at a time from the workspace folder, by file descriptor
(``openat`` with ``O_NOFOLLOW``): a link or a special file is treated as absent — never listed,
read, written through or followed — and no window is left between a check and its use in which
a run could swap a folder for a link. Inside its sandbox, the run's links work as it meant them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from joliba.domain.errors import Conflict
from joliba.domain.paths import FOLDER_MARKER
from joliba.storage.files import CHUNK, Entry, Upload, WorkspaceFiles

#: A folder, by descriptor, never through a link.
_FOLDER = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: A file to read: never through a link, and without blocking should it be a FIFO.
_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _parts(path: str) -> list[str]:
    return [part for part in path.split("/") if part]


class LocalWorkspaceFiles(WorkspaceFiles):
    @contextmanager
    def _folder(self, parts: list[str], *, create: bool = False) -> Iterator[int]:
        """A descriptor of the folder ``parts`` under the root; FileNotFoundError when a part
        is missing, a file, a link or anything else that is not a real folder."""
        if create:
            os.makedirs(self.root, exist_ok=True)  # the server's own folder, not a run's
        fd = os.open(self.root, _FOLDER)
        try:
            for part in parts:
                try:
                    child = os.open(part, _FOLDER, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    with contextlib.suppress(FileExistsError):  # made meanwhile by another
                        os.mkdir(part, dir_fd=fd)
                    try:
                        child = os.open(part, _FOLDER, dir_fd=fd)
                    except OSError as exc:  # what was made meanwhile is not a folder
                        raise FileNotFoundError(f"'{part}' is not a folder") from exc
                except OSError as exc:  # ENOTDIR (a file or a link), ELOOP
                    raise FileNotFoundError(f"'{part}' is not a folder") from exc
                os.close(fd)
                fd = child
            yield fd
        finally:
            os.close(fd)

    def _stat(self, path: str) -> os.stat_result | None:
        """The entry itself (a link is not followed); None when it is missing."""
        parts = _parts(path)
        try:
            if not parts:
                return os.stat(self.root, follow_symlinks=False)
            with self._folder(parts[:-1]) as fd:
                return os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
        except FileNotFoundError:
            return None

    def kind(self, path: str) -> str | None:
        if not path:
            return "folder"
        found = self._stat(path)
        if found is None:
            return None
        if stat.S_ISREG(found.st_mode):
            return "file"
        if stat.S_ISDIR(found.st_mode):
            return "folder"
        return None  # a link, a FIFO, a socket: not a file of this workspace

    def list(self, path: str) -> list[Entry]:
        parts = _parts(path)
        try:
            with self._folder(parts) as fd:
                listing = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
                try:
                    found = [
                        (entry.name, entry.stat(follow_symlinks=False))
                        for entry in os.scandir(listing)
                        if entry.name != FOLDER_MARKER
                    ]
                finally:
                    os.close(listing)
        except FileNotFoundError:
            if not parts:
                return []
            raise
        entries = [
            Entry(
                path=f"{path}/{name}" if path else name,
                name=name,
                type="folder" if stat.S_ISDIR(info.st_mode) else "file",
                size=None if stat.S_ISDIR(info.st_mode) else info.st_size,
                modified=datetime.fromtimestamp(info.st_mtime, tz=UTC),
            )
            for name, info in found
            if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)
        ]
        entries.sort(key=lambda e: (e.type != "folder", e.name.lower()))
        return entries

    def size(self, path: str) -> int:
        found = self._stat(path)
        if found is None or not stat.S_ISREG(found.st_mode):
            raise FileNotFoundError(path)
        return found.st_size

    def read_chunks(self, path: str, chunk: int = CHUNK) -> Iterator[bytes]:
        parts = _parts(path)
        with self._folder(parts[:-1]) as folder:
            try:
                fd = os.open(parts[-1], _READ, dir_fd=folder)
            except OSError as exc:  # ELOOP: a link
                raise FileNotFoundError(path) from exc
        with open(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise FileNotFoundError(path)
            while data := handle.read(chunk):
                yield data

    def begin_upload(self, path: str) -> Upload:
        return _LocalUpload(self, path)

    def make_folder(self, path: str) -> None:
        try:
            with self._folder(_parts(path), create=True):
                pass
        except FileNotFoundError:
            raise Conflict(
                f"path: '{path}' is taken by something that is not a folder",
                details={"field": "path"},
            ) from None

    def move(self, source: str, destination: str) -> None:
        src, dst = _parts(source), _parts(destination)
        try:
            with (
                self._folder(src[:-1]) as src_fd,
                self._folder(dst[:-1], create=True) as dst_fd,
            ):
                os.rename(src[-1], dst[-1], src_dir_fd=src_fd, dst_dir_fd=dst_fd)
        except OSError as exc:  # a part that is not a folder, a folder onto a file, …
            raise Conflict(
                f"destination: cannot move '{source}' to '{destination}' ({exc.strerror or exc})",
                details={"field": "destination"},
            ) from None

    def delete(self, path: str) -> None:
        parts = _parts(path)
        with self._folder(parts[:-1]) as fd:
            found = os.stat(parts[-1], dir_fd=fd, follow_symlinks=False)
            if stat.S_ISDIR(found.st_mode):
                # rmtree by descriptors never follows a link out of the folder it removes.
                shutil.rmtree(parts[-1], dir_fd=fd)
            else:
                os.unlink(parts[-1], dir_fd=fd)


class _LocalUpload(Upload):
    """Written in the store's own temporary folder, then renamed into place through the
    walked folder: a link planted on the way is never written through."""

    def __init__(self, files: LocalWorkspaceFiles, path: str) -> None:
        super().__init__(files.fs, f"{files.root}/{path}", is_local=True, tmp_root=files.tmp_root)
        self._files = files
        self._parts = _parts(path)

    def commit(self) -> None:
        self._file.close()
        tmp = self._tmp
        assert tmp is not None  # always set for a local upload
        try:
            with self._files._folder(self._parts[:-1], create=True) as fd:
                os.rename(tmp, self._parts[-1], dst_dir_fd=fd)
        except FileNotFoundError:  # the caller's abort() removes the temporary file
            raise Conflict(
                f"path: a part of '{'/'.join(self._parts)}' is not a folder",
                details={"field": "path"},
            ) from None
