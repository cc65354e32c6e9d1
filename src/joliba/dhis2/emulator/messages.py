"""DHIS2's JSON envelopes: the WebMessage (errors, import results) and its HTTP reason phrases."""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from starlette.responses import Response

MEDIA_TYPE = "application/json;charset=UTF-8"


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(payload, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def reason(status: int) -> str:
    return {409: "Conflict", 401: "Unauthorized"}.get(status) or HTTPStatus(status).phrase


def web_message(
    status: int,
    message: str,
    *,
    status_text: str = "ERROR",
    error_code: str | None = None,
    response: Any = None,
    dev_message: str | None = None,
) -> dict[str, Any]:
    """A WebMessage with DHIS2's field order; absent fields are left out, as DHIS2 does."""
    body: dict[str, Any] = {
        "httpStatus": reason(status),
        "httpStatusCode": status,
        "status": status_text,
        "message": message,
    }
    if dev_message:
        body["devMessage"] = dev_message
    if response is not None:
        body["response"] = response
    if error_code:
        body["errorCode"] = error_code
    return body


def error(status: int, message: str, error_code: str | None = None) -> Response:
    return json_response(web_message(status, message, error_code=error_code), status)


def not_found(kind: str, identifier: str) -> Response:
    return error(404, f"{kind} with id {identifier} could not be found.", "E1005")
