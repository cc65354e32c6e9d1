"""The one place where errors become HTTP answers: JSON for the API, HTML for pages."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from joliba.domain.errors import (
    BadGateway,
    Conflict,
    Forbidden,
    Invalid,
    JolibaError,
    NotFound,
    TooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)

log = logging.getLogger("joliba.api")

STATUS: dict[type[JolibaError], int] = {
    Invalid: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    TooManyRequests: 429,
    BadGateway: 502,
    Unavailable: 503,
}

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
}

#: Renders an error as a page for browser routes; set by the web package.
HtmlRenderer = Callable[[Request, int, str], Response]


def status_of(exc: JolibaError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def error_json(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status
    )


def _headers_for(exc: JolibaError) -> dict[str, str]:
    if isinstance(exc, TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, Unauthorized):
        return {"WWW-Authenticate": "Bearer"}
    return {}


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _field_of(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error.get("loc", ())]
    return ".".join(loc[1:] if loc and loc[0] in ("body", "query", "path") else loc) or "body"


def install(app: FastAPI, html: HtmlRenderer | None = None) -> None:
    def respond(
        request: Request,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        if html is not None and not _wants_json(request):
            response = html(request, status, message)
        else:
            response = error_json(status, code, message, details)
        response.headers.update(headers or {})
        return response

    @app.exception_handler(JolibaError)
    async def _domain(request: Request, exc: JolibaError) -> Response:
        status = status_of(exc)
        return respond(request, status, exc.code, exc.message, exc.details, _headers_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return respond(request, 400, "bad_json", "the request body is not valid JSON")
        if any(tuple(e.get("loc", ())) == ("body",) for e in errors):
            return respond(
                request,
                400,
                "bad_json",
                "the request body must be a JSON object (Content-Type: application/json)",
            )
        details = [
            {"field": _field_of(e), "message": str(e.get("msg", "")), "type": e.get("type")}
            for e in errors
        ]
        message = "; ".join(f"{d['field']}: {d['message']}" for d in details)
        return respond(request, 422, "invalid", message, details)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "error")
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
        return respond(request, exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return respond(request, 500, "internal", "internal server error")
