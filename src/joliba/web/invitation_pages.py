"""Accepting an invitation link: as the signed-in invitee, or by creating the account."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import Response

from joliba.domain.errors import Conflict, Forbidden, Invalid, NotFound
from joliba.http.callers import client_ip
from joliba.http.deps import PlatformDep
from joliba.services import invitations, sessions, users
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.web.auth import (
    MaybeActor,
    PageActor,
    csrf_protect,
    set_session_cookie,
    sign_in_url,
)
from joliba.web.forms import problem, see_other
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])

Secret = Annotated[str, Path(max_length=200)]


@router.get("/invitations/{secret}")
def invitation_page(
    request: Request, platform: PlatformDep, actor: MaybeActor, secret: Secret
) -> Response:
    return _page(request, platform, actor, secret)


@router.post("/invitations/{secret}/accept")
def invitation_accept(
    request: Request, platform: PlatformDep, actor: PageActor, secret: Secret
) -> Response:
    try:
        with platform.db.transaction() as session:
            invitation = invitations.accept(
                session, secret, actor.user, client_ip=client_ip(request)
            )
            slug, name = invitation.workspace.slug, invitation.workspace.name
    except (NotFound, Conflict, Forbidden) as exc:
        message, status = problem(exc)
        return _page(request, platform, actor, secret, error=message, status=status)
    return see_other(f"/w/{slug}", f"Welcome to {name}.")


@router.post("/invitations/{secret}/register")
def invitation_register(
    request: Request,
    platform: PlatformDep,
    actor: MaybeActor,
    secret: Secret,
    password: Annotated[str, Form(max_length=1024)],
    password_again: Annotated[str, Form(max_length=1024)],
    name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if actor is not None:
        # Someone is signed in on this browser: the page offers the right choice instead.
        return see_other(f"/invitations/{secret}")
    if password != password_again:
        return _page(
            request, platform, None, secret, name=name, error="The passwords differ.", status=400
        )
    settings = platform.settings
    try:
        with platform.db.transaction() as session:
            workspace = invitations.find_open(session, secret).workspace
            slug, ws_name = workspace.slug, workspace.name
            user = invitations.accept_as_new_user(
                session, secret, password=password, name=name, client_ip=client_ip(request)
            )
            started = sessions.start(session, user, lifetime=timedelta(days=settings.session_days))
    except (Invalid, NotFound, Conflict) as exc:
        message, status = problem(exc)
        return _page(request, platform, None, secret, name=name, error=message, status=status)
    response = see_other(f"/w/{slug}", f"Welcome to {ws_name}.")
    set_session_cookie(response, settings, started.cookie_value)
    return response


def _page(
    request: Request,
    platform: Platform,
    actor: Actor | None,
    secret: str,
    *,
    name: str = "",
    error: str = "",
    status: int = 200,
) -> Response:
    with platform.db.session(write=False) as session:
        try:
            invitation = invitations.find_open(session, secret)
        except (NotFound, Conflict) as exc:
            message, code = problem(exc)
            return render(request, "invitation.html", {"problem": message}, status=code)
        has_account = users.get_by_email(session, invitation.email) is not None
    if actor is not None:
        mode = "accept" if actor.user.email == invitation.email else "other_user"
    else:
        mode = "sign_in" if has_account else "register"
    context = {
        "invitation": invitation,
        "workspace": invitation.workspace,
        "mode": mode,
        "secret": secret,
        "sign_in": sign_in_url(f"/invitations/{secret}"),
        "name": name,
        "error": error,
    }
    return render(request, "invitation.html", context, status=status)
