"""How stored files leave the server: as downloads, never as content of this site.

Workspace files and dataset files are whatever someone uploaded; served from the same origin
as the pages, a ``.html`` or ``.js`` file would run with the pages' rights (the pages' CSP
trusts ``'self'``). So every file goes out as an attachment (``Content-Disposition``, with a
filename safe for any browser, RFC 6266), with ``X-Content-Type-Options: nosniff`` and a
sandboxing CSP, and with its media type only when that type cannot run: anything else is
``application/octet-stream``. ``http.security_headers.SecurityHeaders`` gives every
attachment the same CSP, whichever route sends it (exports, run logs).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from starlette.background import BackgroundTask
from starlette.responses import StreamingResponse

from joliba.storage.files import CHUNK

#: The CSP of every download: no script, no plugin, no frame, no fetch, a unique origin.
SANDBOX_CSP = "sandbox; default-src 'none'"

#: Media types kept as guessed from the name: data and documents that never run as script.
INERT_TYPES = frozenset(
    {
        "application/geo+json",
        "application/gzip",
        "application/json",
        "application/pdf",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/x-tar",
        "application/zip",
        "image/gif",
        "image/jpeg",
        "image/png",
        "image/tiff",
        "image/webp",
        "text/csv",
        "text/plain",
        "text/tab-separated-values",
    }
)

_FALLBACK_SAFE = frozenset(" ._-()+,@")

#: The OpenAPI request body of the routes that take a file as the raw request body.
RAW_UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def media_type(name: str) -> str:
    """The type to send the file ``name`` as: its own when inert, else a plain byte stream."""
    guessed = mimetypes.guess_type(name, strict=False)[0]
    return guessed if guessed in INERT_TYPES else "application/octet-stream"


def content_disposition(name: str) -> str:
    """``attachment`` with the name twice (RFC 6266): a plain ASCII fallback in ``filename``,
    the exact name percent-encoded in ``filename*``. Nothing in either can end the header
    or the parameter (quotes, backslashes, semicolons, control characters)."""
    fallback = "".join(
        c if c.isascii() and (c.isalnum() or c in _FALLBACK_SAFE) else "_" for c in name
    ).strip(" .")
    return (
        f'attachment; filename="{fallback or "download"}"; '
        f"filename*=UTF-8''{quote(name, safe='')}"
    )


def download_headers(name: str) -> dict[str, str]:
    """The headers every file download carries."""
    return {
        "Content-Disposition": content_disposition(name),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": SANDBOX_CSP,
    }


def file_response(path: Path, media: str, name: str) -> StreamingResponse:
    """A temporary file sent as the download ``name``, and removed once sent (or not)."""

    def chunks() -> Iterator[bytes]:
        with path.open("rb") as handle:
            while data := handle.read(CHUNK):
                yield data

    return StreamingResponse(
        chunks(),
        media_type=media,
        headers={"Content-Length": str(path.stat().st_size), **download_headers(name)},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
