"""A tiny real wheel, built on the fly, so environment builds need no package index."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

NAME = "jolibatestpkg"


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={digest}"


def build_wheel(folder: Path, version: str = "1.0", value: int = 42) -> Path:
    """Write ``jolibatestpkg-<version>-py3-none-any.whl`` (``VALUE = value``) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    info = f"{NAME}-{version}.dist-info"
    files = {
        f"{NAME}/__init__.py": f"VALUE = {value}\n".encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\n".encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: joliba-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
    }
    record = "".join(f"{name},{_record_hash(data)},{len(data)}\n" for name, data in files.items())
    record += f"{info}/RECORD,,\n"
    path = folder / f"{NAME}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", record)
    return path
