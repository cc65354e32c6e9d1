"""Dependencies of the API routes (pages use some): the platform, sessions, the caller, paging."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, TypeVar

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from joliba.domain.errors import Unauthorized
from joliba.domain.paging import MAX_PAGE, MAX_PAGE_SIZE, PageRequest
from joliba.domain.permissions import READ_ACTIONS, Action
from joliba.http import callers
from joliba.http.callers import CSRF_HEADER
from joliba.schemas.common import Page
from joliba.services import workspaces
from joliba.services.actors import Actor
from joliba.services.platform import Platform
from joliba.services.workspaces import Access


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def read_session(platform: PlatformDep) -> Iterator[Session]:
    with platform.db.session(write=False) as session:
        yield session


def write_session(platform: PlatformDep) -> Iterator[Session]:
    """The request's unit of work: it commits when the handler returns (before the answer is
    sent, so a failed commit is the answer) and rolls back when the handler raises; what
    services announced then reaches the runner and the profiler (``commit_events``)."""
    with platform.db.transaction(write=True) as session:
        yield session


ReadDB = Annotated[Session, Depends(read_session)]
WriteDB = Annotated[Session, Depends(write_session, scope="function")]


def current_actor(request: Request, platform: PlatformDep) -> Actor:
    """The API's caller: any token, or a browser session (whose writes carry X-CSRF-Token)."""
    actor = callers.resolve(request, platform, tokens_allowed=True)
    if actor is not None and actor.via == "browser":
        callers.check_csrf(
            request,
            request.headers.get(CSRF_HEADER, ""),
            refusal="missing or wrong CSRF token (send the X-CSRF-Token header)",
        )
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
