"""Dependencies shared by the routers: the platform, database sessions, the caller, paging."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from joliba.db.tables import ApiToken
from joliba.domain.errors import Forbidden, Unauthorized
from joliba.domain.paging import MAX_PAGE, MAX_PAGE_SIZE, PageRequest
from joliba.domain.permissions import READ_ACTIONS, Action
from joliba.schemas.common import Page
from joliba.services import dataset_tokens, runs, sessions, tokens, workspaces
from joliba.services.actors import Actor
from joliba.services.crypto import same
from joliba.services.platform import Platform
from joliba.services.workspaces import Access

SESSION_COOKIE = "joliba_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def _session(platform: Platform, write: bool) -> Iterator[Session]:
    # The edge commits; leaving the block without a commit rolls back.
    with platform.db.session(write=write) as session:
        yield session


def read_session(platform: PlatformDep) -> Iterator[Session]:
    yield from _session(platform, write=False)


def write_session(platform: PlatformDep) -> Iterator[Session]:
    yield from _session(platform, write=True)


ReadDB = Annotated[Session, Depends(read_session)]
WriteDB = Annotated[Session, Depends(write_session)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def resolve_actor(request: Request, platform: Platform) -> Actor | None:
    """The caller from a Bearer token or the session cookie, or None when anonymous.

    Usage bookkeeping (token last use, session expiry) happens in its own short write
    transaction so that read-only requests stay read-only.
    """
    header = request.headers.get("authorization")
    ip = client_ip(request)
    with platform.db.session(write=False) as session:
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise Unauthorized("use 'Authorization: Bearer <token>'")
            if value.strip().startswith(runs.RUN_TOKEN_PREFIX):
                return _run_actor(session, value.strip(), ip)
            if value.strip().startswith(dataset_tokens.PREFIX):
                return _dataset_actor(platform, session, value.strip(), ip)
            token = tokens.resolve(session, value.strip())
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
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        row = sessions.resolve(session, cookie)
        if row is None:
            return None
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not same(sent, row.csrf_token):
                raise Forbidden("missing or wrong CSRF token (send the X-CSRF-Token header)")
        request.state.csrf_token = row.csrf_token
        return Actor(user=row.user, client_ip=ip, via="browser")


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


def current_actor(request: Request, platform: PlatformDep) -> Actor:
    actor = resolve_actor(request, platform)
    if actor is None:
        raise Unauthorized("sign in or send 'Authorization: Bearer <token>'")
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]


def require(action: Action, *, write: bool | None = None) -> Callable[..., Access]:
    """A dependency that loads workspace ``{ws}`` for ``action`` (404 for outsiders).

    It shares the request's session (ReadDB for read actions, WriteDB otherwise, or as
    ``write`` says), so the handler must declare the same one.
    """
    writes = action not in READ_ACTIONS if write is None else write

    def in_read(
        ws: Annotated[str, Path(description="Workspace slug")], actor: ActorDep, session: ReadDB
    ) -> Access:
        return workspaces.authorize(session, actor, ws, action)

    def in_write(
        ws: Annotated[str, Path(description="Workspace slug")], actor: ActorDep, session: WriteDB
    ) -> Access:
        return workspaces.authorize(session, actor, ws, action)

    dependency = in_write if writes else in_read
    REQUIRED[dependency] = action
    return dependency


#: The action each ``require`` dependency authorises (the OpenAPI statuses depend on it).
REQUIRED: dict[Callable[..., Access], Action] = {}


def paging(
    page: Annotated[
        int, Query(ge=1, le=MAX_PAGE, description=f"Page number, from 1 to {MAX_PAGE}")
    ] = 1,
    page_size: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Items per page, 1 to {MAX_PAGE_SIZE}")
    ] = 50,
) -> PageRequest:
    return PageRequest(page=page, page_size=page_size)


Paging = Annotated[PageRequest, Depends(paging)]

T = TypeVar("T")


def page_of(items: Sequence[T], request: PageRequest, total: int) -> Page[T]:
    return Page[T](items=list(items), page=request.page, page_size=request.page_size, total=total)
