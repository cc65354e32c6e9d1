"""Your account: personal API tokens and your password."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import Response

from joliba.domain.errors import Forbidden, Invalid, NotFound, TooManyRequests
from joliba.domain.paging import PageRequest
from joliba.http.deps import PlatformDep
from joliba.services import sessions, tokens, users, workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.web.auth import PageActor, csrf_protect, set_session_cookie
from joliba.web.forms import problem, see_other
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])
#: Tokens and workspaces listed on the page; people hold a handful of each.
LIST_SIZE = 200

Password = Annotated[str, Form(max_length=1024)]


@router.get("/account")
def account(request: Request, platform: PlatformDep, actor: PageActor) -> Response:
    return _page(request, platform, actor)


@router.post("/account/tokens")
def token_create(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    name: Annotated[str, Form(max_length=200)],
    workspace: Annotated[str, Form(max_length=64)] = "",
    expires_in_days: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    form = {"name": name, "workspace": workspace, "expires_in_days": expires_in_days}
    try:
        days = _days(expires_in_days)
        with platform.db.transaction() as session:
            created = tokens.create(
                session, actor, name=name, workspace_slug=workspace or None, expires_in_days=days
            )
            secret, label = created.secret, created.token.name
    except (Invalid, NotFound, Forbidden) as exc:
        message, status = problem(exc)
        return _page(request, platform, actor, token_form=form, token_error=message, status=status)
    # Rendered, not redirected: the secret must not travel in a URL, and is shown only now.
    return _page(request, platform, actor, created={"name": label, "secret": secret})


@router.post("/account/tokens/{token_id}/revoke")
def token_revoke(platform: PlatformDep, actor: PageActor, token_id: uuid.UUID) -> Response:
    with platform.db.transaction() as session:
        tokens.revoke(session, actor, token_id)
    return see_other("/account", "Token revoked.")


@router.post("/account/password")
def password_change(
    request: Request,
    platform: PlatformDep,
    actor: PageActor,
    current_password: Password,
    new_password: Password,
    new_password_again: Password,
) -> Response:
    settings = platform.settings
    try:
        if new_password != new_password_again:
            raise Invalid("new_password_again: the new passwords differ")
        with platform.db.transaction() as session:
            changed = users.change_password(
                session,
                actor,
                current_password=current_password,
                new_password=new_password,
                max_failures=settings.login_max_failures,
                window=settings.login_window,
            )
            # The change ended every browser session, this one too: start a fresh one here.
            if changed:
                started = sessions.start(
                    session, actor.user, lifetime=timedelta(days=settings.session_days)
                )
        if not changed:
            raise Invalid("current_password: incorrect", details={"field": "current_password"})
    except (Invalid, TooManyRequests) as exc:
        message, status = problem(exc)
        return _page(request, platform, actor, password_error=message, status=status)
    response = see_other(
        "/account", "Password changed. Your other browser sessions are signed out."
    )
    set_session_cookie(response, settings, started.cookie_value)
    return response


def _days(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise Invalid(
            "expires_in_days: a whole number of days", details={"field": "expires_in_days"}
        )
    return int(value)


def _page(
    request: Request,
    platform: Platform,
    actor: Actor,
    *,
    created: dict[str, str] | None = None,
    token_form: dict[str, str] | None = None,
    token_error: str = "",
    password_error: str = "",
    status: int = 200,
) -> Response:
    with platform.db.session(write=False) as session:
        rows, _ = tokens.list_for(session, actor.user, PageRequest(page_size=LIST_SIZE))
        spaces, _ = workspaces.list_for(session, actor, PageRequest(page_size=LIST_SIZE))
    context: dict[str, Any] = {
        "tokens": rows,
        "workspaces": [ws for ws, _ in spaces],
        "created": created,
        "token_form": token_form or {"name": "", "workspace": "", "expires_in_days": ""},
        "token_error": token_error,
        "password_error": password_error,
    }
    return render(request, "account.html", context, status=status)
