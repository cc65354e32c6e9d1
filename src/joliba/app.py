"""``create_app(settings)``: the one place that wires the web pages, the API and the platform."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from joliba import __version__
from joliba.api.downloads import SANDBOX_CSP
from joliba.api.limits import BodyLimit
from joliba.api.proxies import ClientAddress
from joliba.api.router import create_api
from joliba.db.migrate import upgrade
from joliba.logs import install_redaction
from joliba.runner.dispatcher import Runner
from joliba.runner.profiler import Profiler
from joliba.services.platform import Platform
from joliba.settings import Settings, prepare_home
from joliba.web import pages

log = logging.getLogger("joliba")

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    ),
]


#: With an https BASE_URL: browsers use https only, for a year, on subdomains too.
_HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
#: Downloads (``Content-Disposition: attachment``) never run as this site's content.
_DOWNLOAD_HEADERS = [
    (k, SANDBOX_CSP.encode() if k == b"content-security-policy" else v)
    for k, v in _SECURITY_HEADERS
]


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.pages = [*_SECURITY_HEADERS, _HSTS] if hsts else _SECURITY_HEADERS
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


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """Build the ASGI app. Migrations run when it starts (see ``lifespan``)."""
    if platform is None:
        settings = settings or Settings()
        prepare_home(settings)
        platform = Platform.from_settings(settings)
    ready = platform

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        install_redaction()  # after the server has configured its loggers
        await run_in_threadpool(upgrade, ready.db.engine)
        runner = None
        if ready.settings.executor == "process" and ready.settings.max_runs > 0:
            runner = Runner(ready)
            runner.start()
        profiler = Profiler(ready)
        profiler.start()
        log.info("Joliba %s ready (database %s)", __version__, ready.db.engine.url.drivername)
        yield
        await run_in_threadpool(profiler.stop)
        if runner is not None:
            await run_in_threadpool(runner.stop)
        ready.close()

    app = FastAPI(
        title="Joliba",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.platform = platform
    api = create_api(__version__)
    api.state.platform = platform
    app.mount("/api/v1", api)
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static"
    )
    pages.install(app)
    app.add_middleware(BodyLimit, max_bytes=platform.settings.max_json_bytes)
    app.add_middleware(SecurityHeaders, hsts=platform.settings.secure_cookies)
    app.add_middleware(ClientAddress, trusted=platform.settings.trusted_networks)
    return app
