"""The metadata database: migrations, SQLite concurrency, the append-only audit log."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import cast

import pytest
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from joliba.db.engine import Database
from joliba.db.migrate import current_revision, head_revision, upgrade
from joliba.db.tables import AuditEntry, Base
from joliba.services import audit, users
from joliba.services.platform import Platform
from tests.conftest import PASSWORD, unique


def test_migrations_reach_head_and_match_the_tables(platform: Platform) -> None:
    engine = platform.db.engine
    assert current_revision(engine) == head_revision()
    upgrade(engine)  # running again is harmless
    names = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= names


def test_audit_entries_cannot_be_changed_or_deleted(platform: Platform) -> None:
    with platform.db.transaction() as session:
        entry = audit.record(session, "test.append_only", email="x@example.org", target="t")
        entry_id = entry.id
    for statement in (
        update(AuditEntry).where(AuditEntry.id == entry_id).values(target="rewritten"),
        delete(AuditEntry).where(AuditEntry.id == entry_id),
    ):
        with pytest.raises(DBAPIError, match="append-only"), platform.db.transaction() as s:
            s.execute(statement)
    with platform.db.session() as session:
        assert session.get(AuditEntry, entry_id).target == "t"  # type: ignore[union-attr]


def test_sqlite_concurrent_writers_do_not_fail(tmp_path: Path) -> None:
    """Many threads writing at once wait for each other instead of "database is locked"."""
    db = Database(f"sqlite:///{tmp_path / 'c.db'}")
    upgrade(db.engine)
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(5):
                with db.transaction() as session:
                    # Read then write in one transaction: the pattern that deadlocks or fails
                    # with deferred transactions under concurrency.
                    session.execute(select(AuditEntry.id).limit(1)).all()
                    audit.record(session, "test.concurrent", target=f"{n}-{i}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    with db.session(write=False) as session:
        count = session.scalar(
            text("SELECT count(*) FROM audit_entry WHERE action = 'test.concurrent'")
        )
    assert count == 40
    db.dispose()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'p.db'}")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert cast(int, conn.exec_driver_sql("PRAGMA busy_timeout").scalar()) >= 10_000
    db.dispose()


def test_foreign_keys_are_enforced(platform: Platform) -> None:
    from joliba.db.tables import Membership

    with platform.db.transaction() as session:
        user = users.create_user(session, email=f"{unique()}@example.org", password=PASSWORD)
        user_id = user.id
    import uuid

    with pytest.raises(DBAPIError), platform.db.transaction() as session:
        session.add(Membership(workspace_id=uuid.uuid4(), user_id=user_id, role="viewer"))
