"""Private spill folders: where one DuckDB reading writes what does not fit in its memory.

Each reading (profile, preview, query, export, diff, conversion) gets a folder of its own,
``<root>/<random>``, made fresh with mode 0700 and removed when the reading ends, whatever
the way it ends. No reading is ever given another's folder, so what one query spills (rows
of a table another workspace cannot see) is out of reach of every other. Folders left by a
server that crashed are swept once they are a day old.
"""

from __future__ import annotations

import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Leftovers older than this (in seconds) belong to no running reading.
STALE_SECONDS = 24 * 3600


def prepare(root: Path) -> None:
    """The folder holding every spill folder, readable by this server's user only."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)


@contextmanager
def private_folder(root: Path) -> Iterator[Path]:
    """A new, empty folder under ``root`` (mode 0700) for one reading; removed at the end."""
    prepare(root)
    folder = root / secrets.token_hex(16)
    folder.mkdir(mode=0o700)  # fails rather than reuse a folder that exists
    folder.chmod(0o700)  # whatever the umask
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep(root: Path, *, older_than: float = STALE_SECONDS, keep: set[Path] | None = None) -> int:
    """Remove what readings of a crashed server left under ``root`` (all but ``keep``, the
    folders of readings running now); returns how many entries went."""
    if not root.is_dir():
        return 0
    limit = time.time() - older_than
    removed = 0
    for entry in root.iterdir():
        try:
            if entry in (keep or set()) or entry.lstat().st_mtime >= limit:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
        except OSError:  # another server sharing the folder removed it first
            continue
        removed += 1
    return removed
