"""The disk checks of a run: its workspace's quota and the server's free space.

A run is refused at start, and stopped while it writes, when its workspace is over its disk
quota or when the disks of ``JOLIBA_HOME`` and the workspace files are nearly full: the
metadata database and uploads need room more than a run does.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from joliba.db.tables import Workspace
from joliba.domain.errors import TooLarge
from joliba.domain.run_limits import Limits
from joliba.runner.limit_reasons import LimitReasons
from joliba.services import quotas
from joliba.services.platform import Platform

#: Seconds between checks of the workspace's disk quota while a run writes.
QUOTA_EVERY = 3.0


def quota_exceeded(quota_mb: int) -> str:
    """Why a run stops at its workspace's quota."""
    return f"workspace disk quota exceeded ({quota_mb} MB)"


@dataclass
class DiskChecks:
    """The disk checks of one run; no workspace (yet): only the run is known."""

    platform: Platform
    workspace_id: uuid.UUID | None = None
    #: The workspace's quota in MB (0: none).
    quota_mb: int = 0

    @classmethod
    def of(
        cls, platform: Platform, workspace_id: uuid.UUID, workspace: Workspace | None
    ) -> DiskChecks:
        """The checks of a run in ``workspace`` (read in the caller's session)."""
        default = platform.settings.workspace_quota_mb
        quota_mb = quotas.quota_of(workspace, default) if workspace is not None else 0
        return cls(platform, workspace_id, quota_mb)

    def cap_files_to_quota(self, limits: Limits) -> tuple[Limits, LimitReasons] | None:
        """``limits`` with no file allowed past the room left in the workspace's quota (the
        kernel's file size limit), so that the check every few seconds only has to catch many
        files, and the reasons that name the quota; None when there is no quota or the limits
        are tighter already. :class:`TooLarge` when no room is left."""
        if not self.quota_mb or self.workspace_id is None:
            return None
        used = quotas.used_bytes(self.platform.store, self.workspace_id)
        room = self.quota_mb * quotas.MB - used
        if room <= 0:
            raise TooLarge(quota_exceeded(self.quota_mb))
        room_mb = max(1, room // quotas.MB)
        if limits.file_mb and room_mb >= limits.file_mb:
            return None
        capped = replace(limits, file_mb=room_mb)
        return capped, LimitReasons(capped, file_reason=quota_exceeded(self.quota_mb))

    def problem(self, *, quota: bool = True) -> str | None:
        """Why the run must stop for disk space: its workspace's quota (unless ``quota`` is
        False), or the server's disk nearly full; None when there is room."""
        if self.workspace_id is None:
            return None
        store, settings = self.platform.store, self.platform.settings
        limit = self.quota_mb * quotas.MB if quota else 0
        if limit and quotas.used_bytes(store, self.workspace_id) > limit:
            return quota_exceeded(self.quota_mb)
        least = settings.run_min_free_mb
        if least:
            places = [settings.home]
            if store.is_local:
                places.append(Path(store.workspace_files(self.workspace_id).root))
            if min(free_bytes(place) for place in places) < least * quotas.MB:
                return (
                    f"the server's disk is nearly full (less than {least} MB free); runs stop "
                    "so that Joliba's own data keeps room"
                )
        return None


def free_bytes(place: Path) -> int:
    """Free bytes on the file system holding ``place`` (or its nearest existing parent)."""
    while not place.exists() and place != place.parent:
        place = place.parent
    return shutil.disk_usage(place).free
