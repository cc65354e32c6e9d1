"""The resource limits of one run or build step, as the instance settings give them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from joliba.settings import Settings


@dataclass(frozen=True)
class Limits:
    """Resource limits of one execution; 0 means no limit."""

    memory_mb: int = 0
    cpu_seconds: int = 0
    processes: int = 0
    file_mb: int = 0
    open_files: int = 0
    #: Lower CPU priority than the server's, so a busy run never slows the pages.
    nice: int = 10

    def to_env(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            memory_mb=settings.run_memory_mb,
            cpu_seconds=settings.run_cpu_seconds,
            processes=settings.run_processes,
            file_mb=settings.run_file_mb,
            open_files=settings.run_open_files,
        )
