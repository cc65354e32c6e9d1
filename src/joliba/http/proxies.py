"""The client's address for everything downstream: throttling, the audit log, the logs.

The direct peer is the client unless it is one of ``JOLIBA_TRUSTED_PROXIES``; then the
right-most untrusted address of ``X-Forwarded-For`` is (``domain.proxies``). The server must
not rewrite the address itself before this runs (``joliba serve`` starts uvicorn with
``proxy_headers=False``).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from joliba.domain.proxies import Network, client_address


class ClientAddress:
    def __init__(self, app: ASGIApp, *, trusted: tuple[Network, ...]) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if self.trusted and scope["type"] in ("http", "websocket") and client:
            forwarded = [
                value.decode("latin-1")
                for name, value in scope.get("headers") or []
                if name.lower() == b"x-forwarded-for"
            ]
            host = client[0]
            found = client_address(host, forwarded, self.trusted)
            if found != host:
                scope["client"] = (found, 0)
        await self.app(scope, receive, send)
