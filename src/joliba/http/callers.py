"""Who is calling: the one resolver for both edges, and the CSRF check.

Callers are API tokens, run tokens (a running pipeline, as whoever started it, in its
workspace only), dataset tokens (one dataset's published versions) and browser sessions.
The API takes all of them; pages take browser sessions only, so that a token never opens a
page. A browser session's writes need its CSRF token, from the ``X-CSRF-Token`` header
(HTMX, scripts) or the ``csrf_token`` form field; anonymous forms (sign-in, accepting an
invitation) use a random token in the ``joliba_csrf`` cookie instead (double submit).
"""

from __future__ import annotations

import secrets

from fastapi import Request
from sqlalchemy.orm import Session

from joliba.db.tables import ApiToken
from joliba.domain.errors import Forbidden, Unauthorized
from joliba.services import dataset_tokens, runs, sessions, tokens
from joliba.services.actors import Actor
from joliba.services.crypto import same
from joliba.services.platform import Platform

SESSION_COOKIE = "joliba_session"
CSRF_HEADER = "x-csrf-token"
CSRF_COOKIE = "joliba_csrf"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_UNRESOLVED = object()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def resolve(request: Request, platform: Platform, *, tokens_allowed: bool) -> Actor | None:
    """The caller, or None when anonymous; resolved once per request.

    Sets ``request.state.csrf_token``: the session's token for a signed-in browser, else the
    anonymous double-submit token (``request.state.new_csrf_cookie`` says to set it). Usage
    bookkeeping (token last use) happens in its own short write transaction so that
    read-only requests stay read-only.
    """
    cached = getattr(request.state, "actor", _UNRESOLVED)
    if cached is not _UNRESOLVED:
        return cached  # type: ignore[return-value]
    actor = _resolve(request, platform, tokens_allowed)
    if actor is None:
        request.state.csrf_token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = CSRF_COOKIE not in request.cookies
    request.state.actor = actor
    request.state.user = actor.user if actor else None
    return actor


def _resolve(request: Request, platform: Platform, tokens_allowed: bool) -> Actor | None:
    header = request.headers.get("authorization")
    ip = client_ip(request)
    with platform.db.session(write=False) as session:
        if header and tokens_allowed:
            scheme, _, value = header.partition(" ")
            secret = value.strip()
            if scheme.lower() != "bearer" or not secret:
                raise Unauthorized("use 'Authorization: Bearer <token>'")
            if secret.startswith(runs.RUN_TOKEN_PREFIX):
                return _run_actor(session, secret, ip)
            if secret.startswith(dataset_tokens.PREFIX):
                return _dataset_actor(platform, session, secret, ip)
            return _token_actor(platform, session, secret, ip)
        cookie = request.cookies.get(SESSION_COOKIE)
        row = sessions.resolve(session, cookie) if cookie else None
        if row is None:
            return None
        request.state.csrf_token = row.csrf_token
        return Actor(user=row.user, client_ip=ip, via="browser")


def check_csrf(request: Request, sent: str, *, refusal: str = "") -> None:
    """Refuse a write from a browser whose CSRF token is missing or wrong."""
    if request.method in SAFE_METHODS:
        return
    if getattr(request.state, "actor", None) is None:
        expected = request.cookies.get(CSRF_COOKIE, "")  # anonymous: the cookie it holds
    else:
        expected = getattr(request.state, "csrf_token", "")
    if not sent or not expected or not same(sent, expected):
        raise Forbidden(
            refusal or "the form expired or was not sent from this site; reload and try again"
        )


async def csrf_from_header_or_form(request: Request) -> str:
    sent = request.headers.get(CSRF_HEADER)
    if sent or request.method in SAFE_METHODS:
        return sent or ""
    # Starlette caches the parsed form, so the page reads the same parse.
    value = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


def _token_actor(platform: Platform, session: Session, secret: str, ip: str) -> Actor:
    token = tokens.resolve(session, secret)
    if token is None:
        raise Unauthorized("the token is invalid, expired or revoked")
    if tokens.touch(token):
        _touch_token(platform, token)
    return Actor(
        user=token.user,
        token_id=token.id,
        token_workspace_id=token.workspace_id,
        client_ip=ip,
        via=f"api token {token.name}",
    )


def _run_actor(session: Session, token: str, ip: str) -> Actor:
    """A running pipeline's token: acts for whoever started the run, in its workspace only,
    and only while the run is running."""
    run = runs.resolve_token(session, token)
    user = runs.acting_user(session, run) if run is not None else None
    if run is None or user is None:
        raise Unauthorized("the run token is invalid or its run has ended")
    return Actor(
        user=user,
        token_workspace_id=run.workspace_id,
        client_ip=ip,
        run_id=run.id,
        via=f"run {run.id}",
    )


def _dataset_actor(platform: Platform, session: Session, secret: str, ip: str) -> Actor:
    """A dataset token: reads its dataset's published versions, as its creator, nothing else."""
    found = dataset_tokens.resolve(session, secret)
    if found is None:
        raise Unauthorized("the dataset token is invalid, expired or revoked")
    token, dataset, user = found
    used = dataset_tokens.touch(token)
    if used is not None:
        with platform.db.transaction() as tx:
            dataset_tokens.record_use(tx, token.id, used)
    return Actor(
        user=user,
        token_workspace_id=dataset.workspace_id,
        token_dataset_id=dataset.id,
        client_ip=ip,
        via=f"dataset token {token.name}",
    )


def _touch_token(platform: Platform, token: ApiToken) -> None:
    with platform.db.transaction() as session:
        tokens.record_use(session, token.id, token.last_used_at)
