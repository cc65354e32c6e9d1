"""Uploads that survive a broken connection: what arrived is kept, the client sends the rest.

A partial upload lives on the server's local disk under a key naming the draft, the file
and the content's announced SHA-256; nobody sees it until it is complete, its hash checked
and the content moved into the blob store. An exclusive lock keeps two connections from
writing the same partial at once. Partials left alone for a week are swept away.
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from pathlib import Path
from typing import BinaryIO

from joliba.storage.blobs import BlobStore, HashMismatch
from joliba.storage.files import CHUNK

MAX_AGE_SECONDS = 7 * 24 * 3600


class OffsetMismatch(Exception):
    def __init__(self, received: int) -> None:
        super().__init__(f"this server holds {received} bytes of the file; continue from there")
        self.received = received


class UploadBusy(Exception):
    """Another connection is writing the same partial upload."""


def key_of(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:40]


def received(root: Path, key: str) -> int:
    path = root / key
    return path.stat().st_size if path.exists() else 0


class ResumableUpload:
    """Appends to partial ``key`` from ``offset`` (which must be what the server holds)."""

    def __init__(self, root: Path, key: str, offset: int) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.path = root / key
        self._file: BinaryIO = self.path.open("ab")
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.close()
            raise UploadBusy("an upload of this file is already in progress") from None
        held = self.path.stat().st_size
        if offset != held:
            self.close()
            raise OffsetMismatch(held)
        self._hash = hashlib.sha256()
        with self.path.open("rb") as prefix:  # the hash covers what arrived before
            while data := prefix.read(CHUNK):
                self._hash.update(data)
        self.size = held

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def close(self) -> None:
        """Keep what arrived (a broken connection); the client may resume."""
        if not self._file.closed:
            self._file.flush()
            self._file.close()

    def commit(self, blobs: BlobStore, expected_sha256: str) -> str:
        """Move the complete content into ``blobs``; a wrong hash discards it."""
        self.close()
        actual = self._hash.hexdigest()
        if actual != expected_sha256.lower():
            self.path.unlink(missing_ok=True)
            raise HashMismatch(expected_sha256.lower(), actual)
        blobs.adopt(self.path, actual)
        return actual

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)


def sweep(root: Path, max_age: float = MAX_AGE_SECONDS) -> int:
    """Delete partial uploads untouched for ``max_age`` seconds; returns how many."""
    if not root.exists():
        return 0
    cutoff = time.time() - max_age
    removed = 0
    for path in root.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
