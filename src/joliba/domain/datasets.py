"""Datasets: version states, file names, and which files are tables."""

from __future__ import annotations

import re
from enum import StrEnum

from joliba.domain.errors import Invalid


class VersionState(StrEnum):
    DRAFT = "draft"  # files may be added and replaced
    PUBLISHED = "published"  # never changes again


#: File kinds read as tables, by extension (lower case).
TABLE_KINDS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".xlsx": "excel",
    ".xls": "excel",
    ".json": "json",
    ".geojson": "geojson",
}

_NAME = re.compile(r"^[^/\\\x00-\x1f\x7f]{1,255}$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
MAX_TAGS = 20


def kind_of(name: str) -> str:
    """The table kind of a file by its extension, or "file" for anything else."""
    dot = name.rfind(".")
    return TABLE_KINDS.get(name[dot:].lower(), "file") if dot > 0 else "file"


def check_file_name(name: str) -> str:
    """A file name inside a version: no folders, no control characters, not . or .."""
    if not _NAME.match(name) or name in (".", "..") or name != name.strip():
        raise Invalid(
            f"name: '{name}' is not a file name (1 to 255 characters, no slashes or control "
            "characters, no surrounding spaces)",
            details={"field": "name"},
        )
    return name


def check_sha256(value: str) -> str:
    if not _SHA256.match(value):
        raise Invalid("sha256: 64 hexadecimal characters", details={"field": "sha256"})
    return value.lower()


def clean_tags(tags: list[str]) -> list[str]:
    cleaned = sorted({t.strip().lower() for t in tags if t.strip()})
    if len(cleaned) > MAX_TAGS or any(len(t) > 50 for t in cleaned):
        raise Invalid(
            f"tags: at most {MAX_TAGS}, each at most 50 characters", details={"field": "tags"}
        )
    return cleaned
