"""Content-addressed blobs: each file content stored once, under its SHA-256.

An upload streams into a staging object while its hash is computed; only when it is
complete (and matches the hash the client announced, if any) does it move to
``blobs/<sha256>``. The same content uploaded twice, in two versions or two workspaces, is
stored once. An interrupted upload leaves only a staging object, which no one can see.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from joliba.storage.files import CHUNK, Upload


class HashMismatch(Exception):
    def __init__(self, expected: str, actual: str) -> None:
        super().__init__(f"the content's SHA-256 is {actual}, not {expected}")
        self.expected = expected
        self.actual = actual


class BlobUpload:
    def __init__(self, store: BlobStore) -> None:
        self._store = store
        self._staging = f"{store.root}/.staging/{uuid.uuid4().hex}"
        self._upload = Upload(
            store.fs, self._staging, is_local=store.is_local, tmp_root=store.tmp_root
        )
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self._hash.update(chunk)
        self._upload.write(chunk)
        self.size += len(chunk)

    def commit(self, expected_sha256: str | None = None) -> str:
        """Store the content under its hash and return the hash; checks ``expected_sha256``."""
        actual = self._hash.hexdigest()
        if expected_sha256 is not None and expected_sha256.lower() != actual:
            self.abort()
            raise HashMismatch(expected_sha256.lower(), actual)
        self._upload.commit()
        fs, final = self._store.fs, self._store.path(actual)
        if fs.exists(final):
            fs.rm(self._staging)  # already stored: keep one copy
        else:
            if self._store.is_local:
                fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
            fs.mv(self._staging, final)
        return actual

    def abort(self) -> None:
        self._upload.abort()


class BlobStore:
    def __init__(self, fs: Any, root: str, *, is_local: bool, tmp_root: str) -> None:
        self.fs = fs
        self.root = root
        self.is_local = is_local
        self.tmp_root = tmp_root

    def path(self, sha256: str) -> str:
        return f"{self.root}/{sha256[:2]}/{sha256}"

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self.path(sha256)))

    def size(self, sha256: str) -> int:
        return int(self.fs.size(self.path(sha256)))

    def adopt(self, local: Path, sha256: str) -> None:
        """Store the complete local file ``local`` (whose hash is ``sha256``) and remove it."""
        final = self.path(sha256)
        if self.fs.exists(final):
            local.unlink(missing_ok=True)
            return
        if self.is_local:
            self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
            staging = f"{self.tmp_root}/{uuid.uuid4().hex}"
            self.fs.makedirs(self.tmp_root, exist_ok=True)
            shutil.move(str(local), staging)  # a rename on the same disk, else a copy
            self.fs.mv(staging, final)
        else:
            self.fs.put_file(str(local), final)
            local.unlink(missing_ok=True)

    def begin(self) -> BlobUpload:
        return BlobUpload(self)

    def read_chunks(self, sha256: str, chunk: int = CHUNK) -> Iterator[bytes]:
        with self.fs.open(self.path(sha256), "rb") as handle:
            while data := handle.read(chunk):
                yield data
