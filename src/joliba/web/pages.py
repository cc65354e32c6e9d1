"""Installs every page router and the HTML error pages on the main app."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from joliba.http import errors
from joliba.web import (
    account_pages,
    audit_pages,
    automation_pages,
    connection_pages,
    database_pages,
    dataset_pages,
    dataset_sharing_pages,
    dataset_table_pages,
    dhis2_picker_pages,
    file_pages,
    invitation_pages,
    member_pages,
    pipeline_pages,
    run_pages,
    session_pages,
    superset_pages,
    workspace_pages,
)
from joliba.web.auth import SignInRequired, sign_in_url
from joliba.web.render import render

ROUTERS = (
    session_pages.router,
    workspace_pages.router,
    member_pages.router,
    invitation_pages.router,
    file_pages.router,
    connection_pages.router,
    pipeline_pages.router,
    dhis2_picker_pages.router,
    automation_pages.router,
    run_pages.router,
    dataset_pages.router,
    dataset_table_pages.router,
    dataset_sharing_pages.router,
    database_pages.router,
    superset_pages.router,
    audit_pages.router,
    account_pages.router,
)


def render_error(request: Request, status: int, message: str) -> Response:
    if status == 401:
        return RedirectResponse(sign_in_url(request.url.path), status_code=303)
    if request.headers.get("hx-request"):
        # HTMX swaps this fragment into the page where the action was.
        return render(request, "_error_fragment.html", {"message": message}, status=status)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def install(app: FastAPI) -> None:
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    errors.install(app, html=render_error)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": sign_in_url(exc.next_url)})
        return RedirectResponse(sign_in_url(exc.next_url), status_code=303)
