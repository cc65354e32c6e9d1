"""Engines and sessions for the metadata database.

SQLite gets WAL, foreign keys, a 30 s busy timeout and ``BEGIN IMMEDIATE`` for writing
transactions: a writer takes the lock when it starts instead of failing halfway with
"database is locked" when another writer got there first. Read-only sessions use a plain
deferred ``BEGIN`` so readers never queue behind writers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

_WRITE_OPTION = "joliba_write"
_BUSY_TIMEOUT_MS = 30_000
_HOOKS = "joliba_hooks"  # session.info: the Database's listeners, by event name
_PENDING = "joliba_after_commit"  # session.info: events to announce when the commit lands

log = logging.getLogger("joliba.db")

Listener = Callable[..., None]


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use psycopg 3 for them."""
    parsed = make_url(url.replace("postgres://", "postgresql://", 1))
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def create_db_engine(url: str) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module so that "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def after_commit(session: Session, event_name: str, *args: Any) -> None:
    """Announce ``event_name`` to the database's listeners once this transaction commits.

    Services call it where they make the change (a run queued, a table stored); the edges
    never wake the runner or the profiler by hand. A rollback drops what was pending, so a
    failed request wakes nobody.
    """
    session.info.setdefault(_PENDING, []).append((event_name, args))


def _announce(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    pending = session.info.pop(_PENDING, [])
    hooks: dict[str, list[Listener]] = session.info.get(_HOOKS, {})
    for name, args in pending:
        for listener in list(hooks.get(name, ())):
            try:
                listener(*args)
            except Exception:  # the data is committed; a listener's failure must not undo it
                log.exception("after-commit listener for %s failed", name)


def _drop(session: Session, transaction: SessionTransaction) -> None:
    # Whatever the root transaction did not commit is forgotten with it.
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


class Database:
    """One engine and its session factories; created by ``create_app`` or a CLI command."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self.engine = create_db_engine(self.url)
        self._hooks: dict[str, list[Listener]] = {}
        info = {_HOOKS: self._hooks}
        self._writer = sessionmaker(self.engine, expire_on_commit=False, info=info)
        self._reader = sessionmaker(
            self.engine.execution_options(**{_WRITE_OPTION: False}),
            expire_on_commit=False,
            info=info,
        )
        for factory in (self._writer, self._reader):
            event.listen(factory, "after_commit", _announce)
            event.listen(factory, "after_transaction_end", _drop)

    def on(self, event_name: str, listener: Listener) -> None:
        """Call ``listener`` after every commit that announced ``event_name``."""
        self._hooks.setdefault(event_name, []).append(listener)

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    def session(self, *, write: bool = True) -> Session:
        return (self._writer if write else self._reader)()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """A session that commits when the block ends normally and rolls back otherwise."""
        with self.session(write=write) as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def dispose(self) -> None:
        self.engine.dispose()
