"""One unit of work: authorise a named action, do it, commit, announce.

Pages and use cases that span transactions do a workspace action this way (API routes get
the same from ``http.deps.require`` and ``WriteDB``)::

    with units.work(platform.db, actor, ws, Action.MEMBER_MANAGE) as (session, access):
        members.set_role(session, access, user_id, role)

The block gets a session and an ``Access`` that proves exactly that action (services that
write call ``access.demand``). Leaving the block normally commits, and what the services
announced (``commit_events``) reaches the runner and the profiler; an exception rolls back
and announces nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from joliba.db.engine import Database
from joliba.domain.permissions import READ_ACTIONS, Action
from joliba.services import workspaces
from joliba.services.actors import Actor
from joliba.services.workspaces import Access


def writes(action: Action) -> bool:
    """Whether ``action`` needs a writing transaction (SQLite: ``BEGIN IMMEDIATE``)."""
    return action not in READ_ACTIONS


@contextmanager
def work(
    db: Database, actor: Actor, ws: str, action: Action, *, write: bool | None = None
) -> Iterator[tuple[Session, Access]]:
    """A transaction in which ``actor`` is authorised for ``action`` in workspace ``ws``."""
    with db.transaction(write=writes(action) if write is None else write) as session:
        yield session, workspaces.authorize(session, actor, ws, action)
