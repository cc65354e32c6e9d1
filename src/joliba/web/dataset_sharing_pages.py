"""Sharing a dataset from its page: shares with workspaces, dataset tokens, the access log.

Like the API, these act only on datasets the workspace owns: for a dataset shared with it,
they answer 404. A new token's secret is rendered on the page that answers the post —
never put in a redirect — because it is shown only once.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from joliba.domain.errors import Conflict, Invalid, NotFound
from joliba.domain.paging import MAX_PAGE
from joliba.domain.permissions import Action
from joliba.http.deps import PlatformDep
from joliba.services import dataset_shares, dataset_tokens, datasets, units
from joliba.web.auth import PageActor, csrf_protect
from joliba.web.dataset_pages import access_log_context, dataset_url, render_dataset
from joliba.web.forms import problem, see_other
from joliba.web.nav import workspace_context
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
DATASET = "/w/{ws}/datasets/{ref}"


@router.post(DATASET + "/shares")
def share_create(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    ref: str,
    workspace: Annotated[str, Form(max_length=64)],
) -> Response:
    target = workspace.strip()
    try:
        with units.work(platform.db, actor, ws, Action.DATASET_SHARE) as (session, access):
            dataset = datasets.get(session, access, ref, owned=True)
            dataset_shares.share(session, access, dataset, target)
    except (Invalid, Conflict, NotFound) as exc:
        details = exc.details if isinstance(exc.details, dict) else {}
        if isinstance(exc, NotFound) and details.get("field") != "workspace":
            raise  # the dataset itself is missing (or only shared with us): a 404 page
        message, status = problem(exc)
        return render_dataset(request, platform, actor, ws, ref, status=status, share_error=message)
    return _back(ws, ref, "sharing", f"Shared with '{target}'.")


@router.post(DATASET + "/shares/{target}/revoke")
def share_revoke(
    platform: PlatformDep, actor: PageActor, ws: str, ref: str, target: str
) -> Response:
    with units.work(platform.db, actor, ws, Action.DATASET_SHARE) as (session, access):
        dataset = datasets.get(session, access, ref, owned=True)
        dataset_shares.revoke(session, access, dataset, target)
    return _back(ws, ref, "sharing", f"No longer shared with '{target}'.")


@router.post(DATASET + "/tokens")
def token_create(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    ref: str,
    name: Annotated[str, Form(max_length=200)],
    expires_in_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        days = _days(expires_in_days)
        with units.work(platform.db, actor, ws, Action.DATASET_SHARE) as (session, access):
            dataset = datasets.get(session, access, ref, owned=True)
            token, secret = dataset_tokens.create(
                session, access, dataset, name=name, expires_in_days=days
            )
            created = {"name": token.name, "secret": secret}
    except Invalid as exc:
        message, status = problem(exc)
        return render_dataset(request, platform, actor, ws, ref, status=status, token_error=message)
    # Rendered, not redirected: the secret must not travel in a URL, and is shown only now.
    return render_dataset(request, platform, actor, ws, ref, created_token=created)


@router.post(DATASET + "/tokens/{token_id}/revoke")
def token_revoke(
    platform: PlatformDep, actor: PageActor, ws: str, ref: str, token_id: uuid.UUID
) -> Response:
    with units.work(platform.db, actor, ws, Action.DATASET_SHARE) as (session, access):
        dataset = datasets.get(session, access, ref, owned=True)
        dataset_tokens.revoke(session, access, dataset, token_id)
    return _back(ws, ref, "tokens", "Token revoked.")


@router.get(DATASET + "/access")
def access_log(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    ws: str,
    ref: str,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
) -> Response:
    """A page of the access log: the panel alone for HTMX, else a page of its own."""
    with units.work(platform.db, actor, ws, Action.DATASET_ACCESS_LOG) as (session, access):
        dataset = datasets.get(session, access, ref, owned=True)
        context = workspace_context(
            access,
            "datasets",
            name=dataset.name,
            dataset_url=dataset_url(ws, dataset.slug),
            **access_log_context(session, dataset, page),
        )
    partial = bool(request.headers.get("hx-request"))
    return render(request, "datasets/_access.html" if partial else "datasets/access.html", context)


def _back(ws: str, ref: str, anchor: str, flash: str) -> Response:
    """Back to the dataset page's panel, with ``flash`` shown once."""
    return see_other(f"{dataset_url(ws, ref)}?{urlencode({'flash': flash})}#{anchor}")


def _days(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise Invalid(
            "expires_in_days: a whole number of days", details={"field": "expires_in_days"}
        )
    return int(value)
