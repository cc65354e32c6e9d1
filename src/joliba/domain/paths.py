"""Workspace file paths: the one check every file operation goes through."""

from __future__ import annotations

from joliba.domain.errors import Invalid

#: Marker written into folders on object stores, which have no real folders; never listed.
FOLDER_MARKER = ".joliba-folder"
_MAX_PATH = 1024
_MAX_NAME = 255


def clean_path(raw: str, *, field: str = "path", allow_root: bool = False) -> str:
    """Return ``raw`` as a relative POSIX path inside a workspace, or raise :class:`Invalid`.

    Refused: absolute paths, ``..`` and ``.`` segments, backslashes, control characters,
    empty segments (``a//b``) and the internal folder marker. A trailing slash is dropped.
    """
    if raw is None or not isinstance(raw, str):
        raise Invalid(f"{field}: a path is required", details={"field": field})
    if raw.startswith(("/", "~")):
        raise Invalid(f"{field}: absolute paths are not allowed", details={"field": field})
    path = raw.strip()
    if path.endswith("/"):
        path = path.rstrip("/")
    if path == "":
        if allow_root:
            return ""
        raise Invalid(f"{field}: a path is required", details={"field": field})
    reason = _refusal(raw, path)
    if reason:
        raise Invalid(f"{field}: {reason}", details={"field": field, "path": raw})
    return path


def _refusal(raw: str, path: str) -> str | None:
    if "\\" in path:
        return "backslashes are not allowed"
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        return "control characters are not allowed"
    if len(path) > _MAX_PATH:
        return f"longer than {_MAX_PATH} characters"
    for part in path.split("/"):
        if part == "":
            return "empty path segments are not allowed"
        if part in (".", ".."):
            return f"'{part}' segments are not allowed"
        if part == FOLDER_MARKER:
            return f"'{FOLDER_MARKER}' is a reserved name"
        if len(part) > _MAX_NAME:
            return f"a name is longer than {_MAX_NAME} characters"
    return None


def parent_of(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


def name_of(path: str) -> str:
    return path.rsplit("/", 1)[-1]
