"""Local paths and URLs made absolute, so that every process Joliba starts finds the same
places whatever folder it runs in: the server's settings, a local run's workspace.yaml."""

from __future__ import annotations

from pathlib import Path


def absolute(path: Path, base: Path | None = None) -> Path:
    """``path`` with ``~`` expanded, against ``base`` (else the current folder); no symlink
    resolved."""
    path = path.expanduser()
    return path if path.is_absolute() else (base or Path.cwd()).absolute() / path


def absolute_sqlite_url(url: str, base: Path | None = None) -> str:
    """A ``sqlite:///relative.db`` URL made absolute (against ``base``, else the current
    folder); other URLs (and in-memory) unchanged."""
    scheme, sep, rest = url.partition(":///")
    if not sep or scheme.split("+", 1)[0].lower() != "sqlite":
        return url
    path, mark, query = rest.partition("?")
    if path in ("", ":memory:") or path.startswith(("/", "file:")):
        return url
    return f"{scheme}:///{absolute(Path(path), base)}{mark}{query}"


def absolute_folder_url(value: str) -> str:
    """A local folder (plain or ``file://``) made absolute; other URLs (s3://, https://)
    unchanged."""
    if value.startswith("file://"):
        path = value.removeprefix("file://")
        return value if path.startswith("/") else f"file://{absolute(Path(path))}"
    if "://" in value or not value.strip():
        return value
    return str(absolute(Path(value)))
