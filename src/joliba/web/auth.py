"""Who is browsing (``http.callers`` resolves it), sign-in redirects and the page cookies."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response

from joliba.http import callers
from joliba.http.callers import SESSION_COOKIE
from joliba.http.deps import PlatformDep
from joliba.services import devices
from joliba.services.actors import Actor
from joliba.settings import Settings


class SignInRequired(Exception):
    """Raised by pages that need a user; answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _load(request: Request, platform: PlatformDep) -> Actor | None:
    # Pages take browser sessions only: an API token never opens a page.
    return callers.resolve(request, platform, tokens_allowed=False)


async def csrf_protect(request: Request, actor: Annotated[Actor | None, Depends(_load)]) -> None:
    callers.check_csrf(request, await callers.csrf_from_header_or_form(request))


def optional_actor(actor: Annotated[Actor | None, Depends(_load)]) -> Actor | None:
    return actor


def signed_in(request: Request, actor: Annotated[Actor | None, Depends(_load)]) -> Actor:
    if actor is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return actor


PageActor = Annotated[Actor, Depends(signed_in)]
MaybeActor = Annotated[Actor | None, Depends(optional_actor)]


def sign_in_url(next_url: str) -> str:
    return f"/login?next={quote(next_url, safe='/')}"


def safe_next(value: str | None) -> str:
    """Only same-site paths are followed after sign-in (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def device_user(request: Request, settings: Settings) -> uuid.UUID | None:
    """The account this browser's device cookie names, if the cookie is genuine."""
    value = request.cookies.get(devices.COOKIE, "")
    return devices.user_of(settings.secret_key_value(), value) if value else None


def set_device_cookie(response: Response, settings: Settings, user_id: uuid.UUID) -> None:
    """Mark this browser as known to the account it just signed in to (``services.devices``)."""
    response.set_cookie(
        devices.COOKIE,
        devices.issue(settings.secret_key_value(), user_id),
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=int(devices.LIFETIME.total_seconds()),
    )


def set_session_cookie(response: Response, settings: Settings, cookie_value: str) -> None:
    """Sign the browser in with a session started by ``services.sessions.start``."""
    response.set_cookie(
        SESSION_COOKIE,
        cookie_value,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        max_age=settings.session_days * 86400,
    )
