"""Pipeline archives: the checks a pushed zip must pass, and safe extraction.

An archive is untrusted input. It is refused, before anything is written, when it is not a
zip, holds more than ``MAX_MEMBERS`` entries, would unpack to more than its limit (counted
while unpacking, not trusted from the headers), holds links, absolute paths, ``..`` or
backslashes, or has no ``pipeline.py`` at its root.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from joliba.domain.errors import Invalid

MAX_MEMBERS = 10_000
ENTRY_FILE = "pipeline.py"
REQUIREMENTS_FILE = "requirements.txt"
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Archive:
    path: Path
    sha256: str
    size: int


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _member_path(info: zipfile.ZipInfo) -> str | None:
    """The member's relative path, or None for a folder entry; raises on a dangerous name."""
    name = info.filename
    if "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise Invalid(f"archive: '{name}' is not a relative path inside the archive")
    parts = PurePosixPath(name).parts
    if any(part in ("..", ".") for part in parts) or not parts:
        raise Invalid(f"archive: '{name}' escapes the archive")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise Invalid(f"archive: '{name}' is a symbolic link, which is not allowed")
    if info.is_dir():
        return None
    return "/".join(parts)


def check(path: Path, *, max_unpacked: int) -> list[tuple[zipfile.ZipInfo, str]]:
    """The members to extract, after every check that the headers allow."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise Invalid("archive: not a zip file") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_MEMBERS:
            raise Invalid(f"archive: more than {MAX_MEMBERS} entries")
        members: list[tuple[zipfile.ZipInfo, str]] = []
        seen: set[str] = set()
        declared = 0
        for info in infos:
            relative = _member_path(info)
            if relative is None:
                continue
            if relative in seen:
                raise Invalid(f"archive: '{relative}' appears twice")
            seen.add(relative)
            declared += info.file_size
            members.append((info, relative))
        if declared > max_unpacked:
            raise Invalid(f"archive: unpacks to more than {max_unpacked} bytes")
        if ENTRY_FILE not in seen:
            raise Invalid(f"archive: no {ENTRY_FILE} at the top of the pipeline folder")
    return members


def extract(path: Path, dest: Path, *, max_unpacked: int) -> None:
    """Unpack ``path`` into the new folder ``dest``; on any problem nothing is left behind."""
    members = check(path, max_unpacked=max_unpacked)
    dest.mkdir(parents=True)
    written = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info, relative in members:
                target = dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as source, target.open("wb") as out:
                    # Count real bytes: sizes in the headers can lie (zip bombs).
                    while chunk := source.read(_CHUNK):
                        written += len(chunk)
                        if written > max_unpacked:
                            raise Invalid(f"archive: unpacks to more than {max_unpacked} bytes")
                        out.write(chunk)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise Invalid(f"archive: damaged ({exc})") from None
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def requirements_text(folder: Path) -> str:
    """The requirements, normalised so that cosmetic edits reuse the same environment."""
    path = folder / REQUIREMENTS_FILE
    if not path.is_file():
        return ""
    lines = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")


def digest_of_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest() if text else ""


class CodeCache:
    """Unpacked archives, one folder per archive hash, shared by every run of a version."""

    def __init__(self, root: Path, *, max_unpacked: int) -> None:
        self.root = root
        self.max_unpacked = max_unpacked

    def folder(self, sha256: str) -> Path:
        return self.root / sha256

    def add(self, archive: Path, sha256: str) -> Path:
        """Unpack ``archive`` unless it already is; safe when two threads race."""
        final = self.folder(sha256)
        if final.is_dir():
            return final
        self.root.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=".unpack-", dir=self.root))
        try:
            extract(archive, scratch / "code", max_unpacked=self.max_unpacked)
            try:
                (scratch / "code").rename(final)
            except OSError:
                if not final.is_dir():
                    raise
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return final
