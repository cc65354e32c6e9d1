"""``create_app(settings)``: the one place that wires the web pages, the API and the platform."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from joliba import __version__
from joliba.api.router import create_api
from joliba.builds.sandbox import notice as sandbox_notice
from joliba.db.migrate import upgrade
from joliba.http.limits import BodyLimit
from joliba.http.proxies import ClientAddress
from joliba.http.security_headers import SecurityHeaders
from joliba.logs import install_redaction
from joliba.runner.dispatcher import Runner
from joliba.runner.profiler import Profiler
from joliba.runner.superset_sync import superset_sync
from joliba.runner.table_follower import table_follower
from joliba.services.platform import Platform
from joliba.settings import Settings, load_settings, prepare_home
from joliba.web import pages

log = logging.getLogger("joliba")


def create_app(settings: Settings | None = None, *, platform: Platform | None = None) -> FastAPI:
    """Build the ASGI app. Migrations run when it starts (see ``lifespan``)."""
    if platform is None:
        settings = settings or load_settings()
        prepare_home(settings)
        platform = Platform.from_settings(settings)
    ready = platform

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        install_redaction()  # after the server has configured its loggers
        await run_in_threadpool(upgrade, ready.db.engine)
        await run_in_threadpool(ready.databases.start)
        runner = None
        if ready.settings.executor == "process" and ready.settings.max_runs > 0:
            runner = Runner(ready)
            runner.start()
        profiler = Profiler(ready)
        profiler.start()
        follower = None
        if ready.settings.max_runs > 0:  # a server that runs no pipelines loads no tables
            follower = table_follower(ready)
            follower.start()
        syncer = superset_sync(ready)
        if syncer is not None:
            syncer.start()
        log.info("Joliba %s ready (database %s)", __version__, ready.db.engine.url.drivername)
        yield
        await run_in_threadpool(profiler.stop)
        if syncer is not None:
            await run_in_threadpool(syncer.stop)
        if follower is not None:
            await run_in_threadpool(follower.stop)
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
    # Pages show it to instance admins; computed here because pages do not import the runner.
    app.state.sandbox_notice = lambda: sandbox_notice(ready.settings)
    api = create_api(__version__)
    api.state.platform = platform
    app.mount("/api/v1", api)
    app.mount(
        "/static", StaticFiles(directory=Path(__file__).parent / "web" / "static"), name="static"
    )
    pages.install(app)
    app.add_middleware(BodyLimit, max_bytes=platform.settings.max_json_bytes)
    app.add_middleware(
        SecurityHeaders,
        hsts=platform.settings.secure_cookies,
        image_origin=platform.settings.map_tile_origin,
    )
    app.add_middleware(ClientAddress, trusted=platform.settings.trusted_networks)
    return app
