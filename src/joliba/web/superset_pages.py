"""Superset from Joliba's pages: one sign-in (``/superset/signin`` hands the signed-in person
to Superset), and a workspace's dashboards, listed and embedded (guest tokens fetched by the
page's script from ``…/guest-token``).

All of it needs ``JOLIBA_SUPERSET_URL``; without it these pages say so.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from joliba.domain.errors import Unavailable
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.http.security_headers import page_policy
from joliba.services import units
from joliba.services.superset import SupersetLink, required
from joliba.web.auth import PageActor, csrf_protect, safe_next
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])


def _link(platform: PlatformDep) -> SupersetLink:
    return required(platform.superset)


Link = Annotated[SupersetLink, Depends(_link)]


@router.get("/superset/signin")
def superset_signin(
    actor: PageActor, link: Link, next: Annotated[str, Query(max_length=2000)] = "/"
) -> Response:
    """Superset's sign-in page sends people here; they come back to Superset signed in."""
    return RedirectResponse(link.signin_url(actor.user, safe_next(next)), status_code=303)


# Plain functions: FastAPI runs them in its threads, where the database and Superset's API
# are waited for without holding the event loop.
@router.get("/w/{ws}/dashboards")
def dashboards_page(
    request: Request, platform: PlatformDep, actor: PageActor, link: Link, ws: str
) -> Response:
    with units.work(platform.db, actor, ws, Action.DATABASE_READ) as (_session, access):
        slug = access.workspace.slug
    problem = ""
    try:
        found = link.dashboards_of(slug)  # authorised just above
    except Unavailable as exc:
        found, problem = [], exc.message
    context = workspace_context(
        access, "dashboards", dashboards=found, problem=problem, superset_url=link.url
    )
    return render(request, "dashboards.html", context)


@router.get("/w/{ws}/dashboards/{dashboard_id}")
def dashboard_page(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    link: Link,
    ws: str,
    dashboard_id: int,
) -> Response:
    with units.work(platform.db, actor, ws, Action.DATABASE_READ) as (_session, access):
        pass
    embedding = link.embedding(actor, ws, dashboard_id, platform.settings.base_origin)
    context = workspace_context(access, "dashboards", embedding=embedding)
    response = render(request, "dashboard.html", context)
    # The dashboard is Superset's page in a frame: this page may frame that origin only.
    response.headers["content-security-policy"] = page_policy(frames=link.url)
    return response


@router.post("/w/{ws}/dashboards/{dashboard_id}/guest-token")
def guest_token(
    platform: PlatformDep, actor: PageActor, link: Link, ws: str, dashboard_id: int
) -> Response:
    token, _ = link.guest_token(actor, ws, dashboard_id, platform.settings.base_origin)
    return JSONResponse({"token": token}, headers={"cache-control": "no-store"})
