"""Zip a pipeline folder for ``joliba pipelines push``, leaving out what must not travel.

Left out: version control folders, virtual environments (any folder with a pyvenv.cfg),
caches, compiled files, and the local-mode files ``workspace.yaml`` (it may hold connection
passwords) and ``workspace/`` (local data).
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

SKIPPED_FOLDERS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "__pycache__",
        ".venv",
        "venv",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".ipynb_checkpoints",
        "node_modules",
        "workspace",
    }
)
SKIPPED_FILES = frozenset({"workspace.yaml", ".DS_Store"})
SKIPPED_SUFFIXES = (".pyc", ".pyo")


class ArchiveError(Exception):
    pass


@dataclass(frozen=True)
class Packed:
    files: int
    size: int


def _included(folder: Path) -> list[Path]:
    found: list[Path] = []
    for current, dirs, names in os.walk(folder):
        here = Path(current)
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_FOLDERS
            and not (here / d / "pyvenv.cfg").exists()
            and not (here / d).is_symlink()
        )
        for name in sorted(names):
            path = here / name
            if name in SKIPPED_FILES or name.endswith(SKIPPED_SUFFIXES) or path.is_symlink():
                continue
            found.append(path)
    return found


def build(folder: Path, destination: Path) -> Packed:
    """Write the zip of ``folder`` to ``destination``."""
    if not folder.is_dir():
        raise ArchiveError(f"{folder} is not a folder")
    if not (folder / "pipeline.py").is_file():
        raise ArchiveError(f"{folder} has no pipeline.py (run 'joliba pipelines init NAME')")
    files = _included(folder)
    with zipfile.ZipFile(destination, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(folder).as_posix())
    return Packed(files=len(files), size=destination.stat().st_size)
