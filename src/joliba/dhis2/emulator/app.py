"""The emulator as an ASGI application: ``create_app(seed=…, scale=…, version="2.39")``.

Paths are normalised as DHIS2 accepts them (``/api/39/dataElements.json`` is
``/api/dataElements``); every request but ``/api/system/ping`` needs Basic or ApiToken
authentication; faults, when configured, are applied before anything else.
"""

from __future__ import annotations

import re
from datetime import date

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from joliba.dhis2.emulator import analytics, data_values, metadata, system, tracker
from joliba.dhis2.emulator.auth import Authenticator, unauthorized
from joliba.dhis2.emulator.country import Country, build_country
from joliba.dhis2.emulator.faults import Faults
from joliba.dhis2.emulator.ids import uid
from joliba.dhis2.emulator.messages import error, json_response
from joliba.dhis2.emulator.values import Values

VERSIONED = re.compile(r"^/api/(\d{2})(/.*)?$")


class Emulator:
    """State shared by the handlers: the country, its values, who may log in."""

    def __init__(self, country: Country, version: str, auth: Authenticator, today: date | None):
        self.country = country
        self.version = version
        self.minor = system.minor(version)
        self.auth = auth
        self.values = Values(country, today=today)
        self.system_id = "-".join(
            uid(country.seed, "system", i).lower()[:n] for i, n in enumerate((8, 4, 4, 4, 11))
        )


class _Edge:
    """Path normalisation, fault injection and authentication, in front of the routes."""

    def __init__(self, app: ASGIApp, emulator: Emulator, faults: Faults | None) -> None:
        self.app = app
        self.emulator = emulator
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        api_minor = self.emulator.minor
        match = VERSIONED.match(path)
        if match:
            api_minor = int(match.group(1))
            path = "/api" + (match.group(2) or "")
        if path.endswith(".json"):
            path = path[: -len(".json")]
        scope = dict(scope)
        api_path = path
        scope["path"] = path
        scope.setdefault("state", {})
        scope["state"] = {
            **scope["state"],
            "minor": self.emulator.minor,
            "api_minor": api_minor,
            "api_path": scope.get("root_path", "") + api_path,
        }
        request = Request(scope)
        scope["state"]["context_path"] = str(request.base_url).rstrip("/")
        if self.faults is not None and self.faults.active:
            failed = await self.faults.before()
            if failed is not None:
                await failed(scope, receive, send)
                return
        if path != "/api/system/ping":
            user = self.emulator.auth.user(request.headers.get("authorization", ""))
            if user is None:
                await unauthorized()(scope, receive, send)
                return
            scope["state"]["user"] = user
        await self.app(scope, receive, send)


def create_app(
    seed: int = 1,
    scale: float = 1.0,
    version: str = "2.39",
    faults: Faults | None = None,
    *,
    tokens: list[str] | None = None,
    users: dict[str, str] | None = None,
    today: date | None = None,
) -> Starlette:
    """A DHIS2 emulator over the synthetic country of ``seed`` and ``scale``.

    ``tokens`` are the personal access tokens it accepts (``d2pat_…``); ``users`` replaces the
    default ``{"admin": "district"}``; ``today`` fixes the clock for the data window."""
    if version not in system.SUPPORTED:
        raise ValueError(f"version must be one of {', '.join(system.SUPPORTED)}, not {version}")
    emulator = Emulator(build_country(seed, scale), version, Authenticator(users, tokens), today)
    country = emulator.country

    async def ping(request: Request) -> Response:
        return PlainTextResponse("pong")

    async def info(request: Request) -> Response:
        return json_response(system.info(request, version, emulator.system_id))

    async def me(request: Request) -> Response:
        return json_response(system.me(request.state.user, country.root["id"]))

    async def collection(request: Request) -> Response:
        name = request.path_params["collection"]
        if name == "filledOrganisationUnitLevels":
            return metadata.filled_levels(request, country)
        if name not in metadata.COLLECTIONS:
            return error(404, "Not Found")
        return metadata.list_objects(request, country, name)

    async def single(request: Request) -> Response:
        name = request.path_params["collection"]
        if name not in metadata.COLLECTIONS:
            return error(404, "Not Found")
        return metadata.get_object(request, country, name, request.path_params["uid"])

    async def data_value_sets(request: Request) -> Response:
        if request.method == "POST":
            return await data_values.post(
                request, country, emulator.values, request.state.api_minor, faults
            )
        return data_values.get(request, country, emulator.values)

    async def analytics_(request: Request) -> Response:
        return analytics.get(request, country, emulator.values, emulator.minor)

    async def events(request: Request) -> Response:
        return tracker.events(request, emulator)

    async def tracked_entities(request: Request) -> Response:
        return tracker.tracked_entities(request, emulator)

    routes = [
        Route("/api/system/ping", ping),
        Route("/api/system/info", info),
        Route("/api/me", me),
        Route("/api/dataValueSets", data_value_sets, methods=["GET", "POST"]),
        Route("/api/dataValueSets.csv", data_value_sets, methods=["GET"]),
        Route("/api/analytics", analytics_),
        Route("/api/tracker/events", events),
        Route("/api/tracker/trackedEntities", tracked_entities),
        Route("/api/{collection}", collection),
        Route("/api/{collection}/{uid}", single),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_Edge, emulator=emulator, faults=faults)])
    app.state.emulator = emulator
    return app
