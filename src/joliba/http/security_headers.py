"""The security headers of every answer: strict for pages, sandboxed for downloads."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from joliba.http.downloads import SANDBOX_CSP

_PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'"
)


def page_policy(*, frames: str) -> str:
    """The pages' Content-Security-Policy, letting one page frame ``frames`` (an origin,
    such as Superset's for an embedded dashboard)."""
    return f"{_PAGE_POLICY}; frame-src {frames}"


_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"content-security-policy", _PAGE_POLICY.encode()),
]


#: With an https BASE_URL: browsers use https only, for a year, on subdomains too.
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
#: Downloads (``Content-Disposition: attachment``) never run as this site's content.
_DOWNLOAD_HEADERS = [
    (k, SANDBOX_CSP.encode() if k == b"content-security-policy" else v)
    for k, v in _SECURITY_HEADERS
]


def _with_images(headers: list[tuple[bytes, bytes]], origin: str) -> list[tuple[bytes, bytes]]:
    """The page headers with ``origin`` (a map tile server) allowed as an image source."""
    if not origin:
        return headers
    return [
        (k, v.replace(b"img-src 'self' data:", b"img-src 'self' data: " + origin.encode()))
        if k == b"content-security-policy"
        else (k, v)
        for k, v in headers
    ]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool = False, image_origin: str = "") -> None:
        self.app = app
        pages = _with_images(_SECURITY_HEADERS, image_origin)
        self.pages = [*pages, _HSTS] if hsts else pages
        self.downloads = [*_DOWNLOAD_HEADERS, _HSTS] if hsts else _DOWNLOAD_HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower(): v for k, v in message.get("headers", [])}
                disposition = present.get(b"content-disposition", b"").lower()
                download = disposition.startswith(b"attachment")
                defaults = self.downloads if download else self.pages
                extra = [(k, v) for k, v in defaults if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
