"""Sign-in and sign-out."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from joliba.domain.errors import TooManyRequests
from joliba.http.callers import SESSION_COOKIE, client_ip
from joliba.http.deps import PlatformDep
from joliba.services import audit, sessions, users
from joliba.web.auth import (
    MaybeActor,
    csrf_protect,
    device_user,
    safe_next,
    set_device_cookie,
    set_session_cookie,
    sign_in_url,
)
from joliba.web.render import render

router = APIRouter(dependencies=[Depends(csrf_protect)])


@router.get("/")
def home(actor: MaybeActor) -> RedirectResponse:
    return RedirectResponse("/workspaces" if actor else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, actor: MaybeActor, next: str = "/") -> Response:
    if actor is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "email": ""})


@router.post("/login")
def login(
    request: Request,
    platform: PlatformDep,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    settings = platform.settings
    error = ""
    status = 401
    headers: dict[str, str] = {}
    user = None
    try:
        with platform.db.transaction() as session:
            user = users.authenticate(
                session,
                email=email,
                password=password,
                client_ip=client_ip(request),
                max_failures=settings.login_max_failures,
                window=settings.login_window,
                device_user=device_user(request, settings),
            )
            if user is not None:
                started = sessions.start(
                    session, user, lifetime=timedelta(days=settings.session_days)
                )
    except TooManyRequests as exc:
        error, status = exc.message, 429
        headers["Retry-After"] = str(exc.retry_after)
    if user is None or error:
        page = render(
            request,
            "login.html",
            {
                "next": safe_next(next),
                "email": email,
                "error": error or "Incorrect email or password.",
            },
            status=status,
        )
        page.headers.update(headers)
        return page
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(response, settings, started.cookie_value)
    set_device_cookie(response, settings, user.id)
    return response


@router.post("/logout")
def logout(
    request: Request,
    platform: PlatformDep,
    actor: MaybeActor,
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with platform.db.transaction() as session:
            sessions.end(session, cookie)
            if actor is not None:
                audit.record(session, "auth.logout", actor=actor, target=actor.user.email)
    # ``next`` lets a page (an invitation for another address) ask to sign in afresh.
    target = sign_in_url(safe_next(next)) if next else "/login"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
