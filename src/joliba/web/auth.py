"""Who is browsing, and CSRF protection for every form and HTMX request.

Signed-in pages use the CSRF token stored with the browser session; anonymous forms (sign-in,
accepting an invitation) use a random token in the ``joliba_csrf`` cookie (double submit).
"""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Request, Response

from joliba.api.deps import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, PlatformDep, client_ip
from joliba.domain.errors import Forbidden
from joliba.services import devices, sessions
from joliba.services.actors import Actor
from joliba.services.crypto import same
from joliba.settings import Settings

CSRF_COOKIE = "joliba_csrf"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """Raised by pages that need a user; answered with a redirect to the sign-in page."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def _load(request: Request, platform: PlatformDep) -> Actor | None:
    """Resolve the session cookie once per request and remember user and CSRF token."""
    if hasattr(request.state, "actor"):
        actor: Actor | None = request.state.actor
        return actor
    actor = None
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with platform.db.session(write=False) as session:
            row = sessions.resolve(session, cookie)
            if row is not None:
                actor = Actor(user=row.user, client_ip=client_ip(request), via="browser")
                request.state.csrf_token = row.csrf_token
    if actor is None:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        request.state.csrf_token = token
        request.state.new_csrf_cookie = CSRF_COOKIE not in request.cookies
    request.state.actor = actor
    request.state.user = actor.user if actor else None
    return actor


async def csrf_protect(request: Request, actor: Annotated[Actor | None, Depends(_load)]) -> None:
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else ""
    expected = request.state.csrf_token
    if actor is None:
        # Anonymous forms: the token must match the cookie the browser already holds.
        expected = request.cookies.get(CSRF_COOKIE, "")
    if not sent or not expected or not same(sent, expected):
        raise Forbidden("the form expired or was not sent from this site; reload and try again")


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
