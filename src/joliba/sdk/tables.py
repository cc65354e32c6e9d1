"""``workspace.write_table(name, frame)``: a Polars frame as a table of the workspace database.

The database is SQLite (``sqlite:///path``) or PostgreSQL (``postgresql://…``). The rows go
into a new table first, which then replaces the old one in one transaction: readers see the
old table or the whole new one, and a failure leaves the old table as it was. PostgreSQL
gets the rows through COPY; SQLite through batched inserts. The SDK stays free of
SQLAlchemy (a rule of the project's layering), so both use their own driver.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import polars as pl

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
BATCH = 50_000
IfExists = Literal["replace", "append", "fail"]


class TableError(ValueError):
    """A table that cannot be written: a bad name, a missing database, an existing table."""


def write_table(
    frame: pl.DataFrame, name: str, database_url: str | None, *, if_exists: IfExists = "replace"
) -> int:
    """Write ``frame`` as table ``name``; return the number of rows written."""
    if not NAME.match(name or ""):
        raise TableError(
            f"table name {name!r}: use letters, digits and _ (not first), at most 63 characters"
        )
    if if_exists not in ("replace", "append", "fail"):
        raise TableError(f"if_exists must be replace, append or fail, not {if_exists!r}")
    if not database_url:
        raise TableError(
            "this workspace has no database: set database_url in workspace.yaml for local runs"
        )
    scheme = urlsplit(database_url).scheme.split("+")[0]
    if scheme == "sqlite":
        return _sqlite(frame, name, database_url, if_exists)
    if scheme in ("postgresql", "postgres"):
        return _postgresql(frame, name, database_url, if_exists)
    raise TableError(
        f"workspace databases are SQLite or PostgreSQL, not {scheme or database_url!r}"
    )


def _sql_type(dtype: Any, *, postgres: bool) -> str:
    import polars as pl

    if dtype == pl.Boolean:
        return "BOOLEAN"
    if dtype.is_integer():
        return "BIGINT"
    if dtype.is_float() or dtype.is_decimal():
        return "DOUBLE PRECISION" if postgres else "REAL"
    if dtype == pl.Date:
        return "DATE"
    if isinstance(dtype, pl.Datetime):
        return ("TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP") if postgres else "TEXT"
    if dtype == pl.Binary:
        return "BYTEA" if postgres else "BLOB"
    return "TEXT"


def _columns(frame: pl.DataFrame, *, postgres: bool) -> str:
    return ", ".join(
        f"{_quoted(c)} {_sql_type(t, postgres=postgres)}" for c, t in frame.schema.items()
    )


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rows(frame: pl.DataFrame, *, text_times: bool) -> Iterator[list[tuple[Any, ...]]]:
    import polars as pl

    nested = [c for c, t in frame.schema.items() if isinstance(t, pl.List | pl.Struct | pl.Array)]
    if nested:  # kept as JSON text: databases have no common nested type
        frame = frame.with_columns(
            pl.col(c).map_elements(_json, return_dtype=pl.String) for c in nested
        )
    if text_times:  # SQLite has no time type: ISO 8601 text sorts and reads back
        frame = frame.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%:z"))
        frame = frame.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d"))
    for batch in frame.iter_slices(BATCH):
        yield batch.rows()


def _json(value: Any) -> str:
    import json

    return json.dumps(value.to_list() if hasattr(value, "to_list") else value, default=str)


def _sqlite(frame: pl.DataFrame, name: str, url: str, if_exists: IfExists) -> int:
    path = unquote(url.split("///", 1)[1]) if "///" in url else ":memory:"
    staged = f"{name}__joliba_new"
    marks = ", ".join("?" for _ in frame.columns)
    with sqlite3.connect(path, isolation_level=None) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            exists = _sqlite_exists(con, name)
            if exists and if_exists == "fail":
                raise TableError(f"table {name!r} already exists")
            target = name if exists and if_exists == "append" else staged
            if target == staged:
                con.execute(f"DROP TABLE IF EXISTS {_quoted(staged)}")
                con.execute(f"CREATE TABLE {_quoted(staged)} ({_columns(frame, postgres=False)})")
            insert = f"INSERT INTO {_quoted(target)} VALUES ({marks})"  # noqa: S608 (quoted name)
            for rows in _rows(frame, text_times=True):
                con.executemany(insert, rows)
            if target == staged:
                con.execute(f"DROP TABLE IF EXISTS {_quoted(name)}")
                con.execute(f"ALTER TABLE {_quoted(staged)} RENAME TO {_quoted(name)}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return frame.height


def _sqlite_exists(con: sqlite3.Connection, name: str) -> bool:
    found = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
    return found.fetchone() is not None


def _postgresql(frame: pl.DataFrame, name: str, url: str, if_exists: IfExists) -> int:
    import psycopg

    staged = f"{name[:50]}__joliba_new"
    url = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as con, con.transaction():
        exists = con.execute("SELECT to_regclass(%s) IS NOT NULL", (_quoted(name),)).fetchone()
        present = bool(exists and exists[0])
        if present and if_exists == "fail":
            raise TableError(f"table {name!r} already exists")
        target = name if present and if_exists == "append" else staged
        if target == staged:
            con.execute(f"DROP TABLE IF EXISTS {_quoted(staged)}")
            con.execute(f"CREATE TABLE {_quoted(staged)} ({_columns(frame, postgres=True)})")
        columns = ", ".join(_quoted(c) for c in frame.columns)
        with con.cursor().copy(f"COPY {_quoted(target)} ({columns}) FROM STDIN") as copy:
            for rows in _rows(frame, text_times=False):
                for row in rows:
                    copy.write_row(row)
        if target == staged:
            con.execute(f"DROP TABLE IF EXISTS {_quoted(name)}")
            con.execute(f"ALTER TABLE {_quoted(staged)} RENAME TO {_quoted(name)}")
    return frame.height
