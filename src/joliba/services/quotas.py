"""Disk quotas of workspace files: how much a workspace may hold, and how much it holds.

The quota is the workspace's own (``workspace.quota_mb``, set by instance admins) or the
instance's ``JOLIBA_WORKSPACE_QUOTA_MB``; 0 means none. Uploads are checked while they
stream; runs, which write straight to the files folder, are checked by their supervisor every
few seconds and stopped when the workspace is over its quota.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from joliba.db.tables import Workspace
from joliba.domain.errors import Invalid, TooLarge
from joliba.domain.permissions import Action
from joliba.services import audit
from joliba.services.workspaces import Access
from joliba.storage.objects import ObjectStore

MB = 1024 * 1024


@dataclass(frozen=True)
class Usage:
    used_bytes: int
    quota_mb: int  # 0: no quota

    @property
    def room(self) -> int | None:
        """Bytes that may still be written, or None when there is no quota."""
        return max(0, self.quota_mb * MB - self.used_bytes) if self.quota_mb else None

    @property
    def over(self) -> bool:
        return bool(self.quota_mb) and self.used_bytes > self.quota_mb * MB


def quota_of(workspace: Workspace, default_mb: int) -> int:
    return workspace.quota_mb if workspace.quota_mb is not None else default_mb


def used_bytes(store: ObjectStore, workspace_id: uuid.UUID) -> int:
    """Bytes the workspace's files take (a walk of the folder, or the store's du)."""
    root = store.workspace_files(workspace_id).root
    if store.is_local:
        return _walk(Path(root))
    try:
        return int(store.fs.du(root))
    except FileNotFoundError:
        return 0


def _walk(folder: Path) -> int:
    total = 0
    stack = [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
    return total


def usage(store: ObjectStore, workspace: Workspace, default_mb: int) -> Usage:
    return Usage(used_bytes(store, workspace.id), quota_of(workspace, default_mb))


def check_room(room: int | None, quota_mb: int, written: int) -> None:
    """Refuse a write that would take the workspace past its quota."""
    if room is not None and written > room:
        raise TooLarge(
            f"the workspace's disk quota of {quota_mb} MB would be exceeded "
            f"(free space left: {room // MB} MB); delete files or ask an instance admin"
        )


def set_quota(session: Session, access: Access, quota_mb: int | None) -> Workspace:
    """Instance admins: the workspace's own quota (None: the instance's default)."""
    access.demand(Action.WORKSPACE_QUOTA)
    if quota_mb is not None and quota_mb < 0:
        raise Invalid("quota_mb: 0 (no quota) or more", details={"field": "quota_mb"})
    access.workspace.quota_mb = quota_mb
    session.flush()
    audit.record(
        session,
        "workspace.quota",
        actor=access.actor,
        workspace=access.workspace,
        target=access.workspace.slug,
        details={"quota_mb": quota_mb},
    )
    return access.workspace
