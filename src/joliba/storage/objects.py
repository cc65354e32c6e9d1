"""The object store: one fsspec file system and a root under which everything lives."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from joliba.storage.blobs import BlobStore
from joliba.storage.files import WorkspaceFiles
from joliba.storage.local_files import LocalWorkspaceFiles


class ObjectStore:
    """``url`` is a local folder (or file://…) or s3://bucket[/prefix]; ``options`` go to fsspec."""

    def __init__(self, url: str, options: dict[str, Any] | None = None) -> None:
        opts = dict(options or {})
        if url.startswith("s3://"):
            # Several servers may share a bucket: never answer from a stale listing cache.
            opts.setdefault("use_listings_cache", False)
            opts.setdefault("skip_instance_cache", True)
        fs, root = fsspec.core.url_to_fs(url, **opts)
        self.url = url
        self.fs = fs
        self.root = str(root).rstrip("/")
        self.is_local = isinstance(fs, LocalFileSystem)
        if self.is_local:
            fs.makedirs(self.root, exist_ok=True)

    def workspace_files(self, workspace_id: uuid.UUID) -> WorkspaceFiles:
        # Runs write local workspace files too: those are served without following links.
        kind = LocalWorkspaceFiles if self.is_local else WorkspaceFiles
        return kind(
            self.fs,
            f"{self.root}/workspaces/{workspace_id}/files",
            is_local=self.is_local,
            tmp_root=f"{self.root}/.tmp",
        )

    def blobs(self) -> BlobStore:
        return BlobStore(
            self.fs, f"{self.root}/blobs", is_local=self.is_local, tmp_root=f"{self.root}/.tmp"
        )

    def _path(self, key: str) -> str:
        return f"{self.root}/{key}"

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    def put_file(self, local: Path, key: str) -> None:
        """Store a local file under ``key``, all or nothing (no partial object is visible)."""
        target = self._path(key)
        if not self.is_local:
            self.fs.put_file(str(local), target)  # S3 objects appear whole or not at all
            return
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        scratch = f"{target}.{uuid.uuid4().hex}.part"
        try:
            shutil.copyfile(local, scratch)
            os.replace(scratch, target)
        finally:
            Path(scratch).unlink(missing_ok=True)

    def get_file(self, key: str, local: Path) -> None:
        self.fs.get_file(self._path(key), str(local))
