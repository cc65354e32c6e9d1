"""The error statuses each operation may answer, declared in the OpenAPI document.

``api/errors.py`` turns every error into ``{"error": {"code", "message", "details"}}``; this
module says, operation by operation, which statuses that can be, from what the route is:

- any input (path, query, header or body): 400 (a wrong value, a body that is not JSON) and 422
  (input that does not match the schema);
- a path parameter: 404;
- a signed-in caller: 401, and 403 where a role, a token's restriction or a missing CSRF token
  can refuse (workspace routes, changes, superuser routes);
- inside a workspace, a change or an action that is not a read (some are read with GET, such
  as a dataset's tokens): 409 (the workspace is archived; a clash);
- a request body: 413 (``JOLIBA_MAX_JSON_BYTES``, upload limits);
- what one operation alone can answer is in ``EXTRA``.

A test fuzzes the whole API and fails on any status an operation answers that is not declared.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts

from joliba.http.deps import REQUIRED, current_actor
from joliba.schemas.common import ErrorBody
from joliba.services.workspaces import refused_when_archived

SAFE = frozenset({"GET", "HEAD", "OPTIONS"})

DESCRIPTIONS = {
    400: "A value is wrong (the message and `details.field` name it), or the body is not JSON",
    401: "No token, or an invalid, expired or revoked one",
    403: "Your role or your token does not allow it (or the CSRF token is missing)",
    404: "Not found, or in a workspace you are not a member of",
    409: "It clashes with what exists, or the workspace is archived",
    413: "The request body is larger than the server accepts",
    422: "The input does not match the schema; `details` lists each field",
    429: "Too many failed sign-ins, or too many outbound requests at once; wait "
    "`Retry-After` seconds",
    502: "A connection's server answered with an error or not at all",
    503: "Something the server needs is unavailable: the database, the storage, the "
    "workspace-database server, Superset, or the run sandbox (pushing a version runs its code "
    "to read its parameters)",
}

#: Statuses only some operations answer, beyond what the rules above give.
EXTRA: dict[tuple[str, str], frozenset[int]] = {
    ("GET", "/health"): frozenset({503}),
    ("GET", "/users"): frozenset({403}),
    ("POST", "/me/password"): frozenset({429}),
    ("POST", "/me/tokens"): frozenset({404}),  # the workspace to restrict it to
    ("POST", "/invitations/accept"): frozenset({404, 409}),
    ("POST", "/users"): frozenset({409}),
    ("POST", "/workspaces"): frozenset({409}),
    ("POST", "/hooks/{secret}"): frozenset({409}),  # the pipeline's workspace is archived
    ("POST", "/workspaces/{ws}/pipelines/{code}/versions"): frozenset({503}),  # no sandbox
    # Only a draft takes uploads: asking how far one got in a published version is a clash.
    ("GET", "/workspaces/{ws}/datasets/{slug}/versions/{version}/files/{name}/upload"): (
        frozenset({409})
    ),
    # Both run in the outbound pool, which answers 429 when it is full.
    ("POST", "/workspaces/{ws}/connections/{slug}/test"): frozenset({429}),
    ("GET", "/workspaces/{ws}/connections/{slug}/dhis2/{collection}"): frozenset({429, 502}),
    # The workspace-database server is down, or workspace databases are SQLite files.
    ("GET", "/workspaces/{ws}/database"): frozenset({503}),
    ("POST", "/workspaces/{ws}/database/rotate"): frozenset({503}),
    ("GET", "/workspaces/{ws}/database/tables"): frozenset({503}),
    ("GET", "/workspaces/{ws}/database/tables/{table}/rows"): frozenset({503}),
    ("POST", "/workspaces/{ws}/database/query"): frozenset({503}),
    ("POST", "/workspaces/{ws}/database/export"): frozenset({503}),
    ("POST", "/workspaces/{ws}/database/loads"): frozenset({503}),
    # Superset does not answer (without JOLIBA_SUPERSET_URL: 404).
    ("GET", "/workspaces/{ws}/dashboards"): frozenset({503}),
    ("POST", "/workspaces/{ws}/dashboards/{dashboard_id}/guest-token"): frozenset({503}),
}


def install(api: FastAPI) -> None:
    """Declare the error statuses in ``api``'s OpenAPI document (FastAPI builds and caches
    it on first use; declaring is idempotent)."""
    build = api.openapi

    def openapi() -> dict[str, Any]:
        document = build()
        declare(document, api)
        return document

    api.openapi = openapi  # type: ignore[method-assign]


def declare(document: dict[str, Any], api: FastAPI) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    error = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs", {}))
    schemas[ErrorBody.__name__] = error
    for context in iter_route_contexts(api.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = context.path_format or route.path_format
        operations = document["paths"].get(path, {})
        for method in context.methods or ():
            operation = operations.get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            for status in error_statuses(route, method, path):
                responses[str(status)] = _response(status)
            operation["responses"] = dict(sorted(responses.items()))
    # FastAPI's own validation error shape is never answered: ours replaced it everywhere.
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)


def error_statuses(route: APIRoute, method: str, path: str) -> set[int]:
    dependant = route.dependant
    has_body = bool(route.body_field) or "requestBody" in (route.openapi_extra or {})
    has_path = any(True for _ in _params(dependant, "path_params"))
    has_input = has_body or any(
        True
        for kind in ("path_params", "query_params", "header_params", "cookie_params")
        for _ in _params(dependant, kind)
    )
    calls = [d.call for d in _dependants(dependant)]
    signed_in = current_actor in calls
    in_workspace = "{ws}" in path
    changes = method not in SAFE
    # A write action in an archived workspace is refused with 409, even one read with GET.
    writes = any(
        refused_when_archived(action)
        for action in (REQUIRED.get(call) for call in calls if call is not None)
        if action is not None
    )
    statuses: set[int] = set()
    if has_input:
        statuses |= {400, 422}
    if has_path:
        statuses.add(404)
    if signed_in:
        statuses.add(401)
        if in_workspace or changes:
            statuses.add(403)
    if in_workspace and (changes or writes):
        statuses.add(409)
    if changes:
        statuses.add(413)  # every request body is measured, whatever the operation reads
    return statuses | EXTRA.get((method, path), frozenset())


def _response(status: int) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS[status],
        "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorBody.__name__}"}}
        },
    }
    if status == 429:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again",
                "schema": {"type": "integer"},
            }
        }
    return response


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _dependants(child)


def _params(dependant: Dependant, kind: str) -> Iterator[object]:
    for each in _dependants(dependant):
        yield from getattr(each, kind)
