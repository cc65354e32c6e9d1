"""Announcements made inside a transaction reach listeners only once it commits."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from joliba.db.engine import Database, after_commit
from joliba.db.tables import AuditEntry
from joliba.services import audit
from joliba.services.platform import Platform
from tests.conftest import unique


@pytest.fixture
def db(platform: Platform) -> Iterator[Database]:
    # A Database of its own on the backend's URL, so its listeners are this test's only.
    database = Database(platform.db.url)
    yield database
    database.dispose()


def test_listeners_hear_after_commit_and_not_after_rollback(db: Database) -> None:
    heard: list[str] = []
    name = unique("event")
    db.on(name, heard.append)
    with db.transaction() as session:
        after_commit(session, name, "committed")
        assert heard == []  # not before the commit lands
    assert heard == ["committed"]
    with pytest.raises(RuntimeError), db.transaction() as session:
        after_commit(session, name, "rolled back")
        raise RuntimeError("the request failed")
    assert heard == ["committed"]
    with db.transaction() as session:
        pass  # a later transaction on a new session announces nothing stale
    assert heard == ["committed"]


def test_a_savepoint_does_not_announce_before_the_outer_commit(db: Database) -> None:
    heard: list[str] = []
    name = unique("event")
    db.on(name, heard.append)
    with pytest.raises(RuntimeError), db.transaction() as session:
        with session.begin_nested():
            after_commit(session, name, "inside")
        assert heard == []
        raise RuntimeError("the outer transaction fails")
    assert heard == []


def test_a_failing_listener_does_not_undo_the_commit(db: Database) -> None:
    name = unique("event")
    target = unique("target")

    def broken() -> None:
        raise ValueError("listener bug")

    heard: list[bool] = []
    db.on(name, broken)
    db.on(name, lambda: heard.append(True))
    with db.transaction() as session:
        audit.record(session, "test.commit_events", email="x@example.org", target=target)
        after_commit(session, name)
    assert heard == [True]  # the next listener still ran
    with db.session(write=False) as session:
        found = session.scalar(select(AuditEntry.id).where(AuditEntry.target == target))
    assert isinstance(found, uuid.UUID)
