"""``write_table`` on SQLite: batches of inserts in one ``BEGIN IMMEDIATE`` transaction.

``replace`` fills a new table that takes the old one's place; ``append`` inserts into the
table; ``upsert`` inserts, replacing the rows whose key is already there. A failure rolls
back everything. SQLite has no time or geometry types: times are ISO 8601 text (which sorts
and reads back), geometry stays as given (WKB as a blob, WKT or GeoJSON as text).
"""

from __future__ import annotations

import sqlite3
from typing import Any
from urllib.parse import unquote

import polars as pl

from joliba.sdk.table_sources import Source, json_text


class SqliteTableError(ValueError):
    """Raised with a message naming the table; tables.py re-raises it as its TableError."""


def write(source: Source, name: str, url: str, if_exists: str, key: list[str]) -> int:
    path = unquote(url.split("///", 1)[1]) if "///" in url else ":memory:"
    with sqlite3.connect(path, isolation_level=None) as con:
        con.execute("BEGIN IMMEDIATE")
        try:
            rows = _write(con, source, name, if_exists, key)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return rows


def _write(
    con: sqlite3.Connection, source: Source, name: str, if_exists: str, key: list[str]
) -> int:
    found = con.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,))
    present = found.fetchone() is not None
    if present and if_exists == "fail":
        raise SqliteTableError(f"table {name!r} already exists")
    into_place = not present or if_exists == "replace"
    target = f"{name}__joliba_new" if into_place else name
    if into_place:
        con.execute(f"DROP TABLE IF EXISTS {_quoted(target)}")
        primary = f", PRIMARY KEY ({', '.join(_quoted(k) for k in key)})" if key else ""
        con.execute(f"CREATE TABLE {_quoted(target)} ({_columns(source)}{primary})")
    columns = ", ".join(_quoted(c) for c in source.schema)
    marks = ", ".join("?" for _ in source.schema)
    insert = f"INSERT INTO {_quoted(target)} ({columns}) VALUES ({marks})"  # noqa: S608
    if if_exists == "upsert" and not into_place:
        others = [c for c in source.schema if c not in key]
        action = (
            "DO UPDATE SET " + ", ".join(f"{_quoted(c)} = excluded.{_quoted(c)}" for c in others)
            if others
            else "DO NOTHING"
        )
        insert += f" ON CONFLICT ({', '.join(_quoted(k) for k in key)}) {action}"
    rows = 0
    for batch in source.batches:
        try:
            con.executemany(insert, _rows(batch))
        except sqlite3.IntegrityError as exc:
            raise SqliteTableError(f"table {name!r}: {exc}") from None
        except sqlite3.OperationalError as exc:
            if "ON CONFLICT" in str(exc):
                raise SqliteTableError(
                    f"table {name!r} has no unique key on ({', '.join(key)}): write it once "
                    f"with if_exists='replace' and key={key!r}, then upsert"
                ) from None
            raise SqliteTableError(f"table {name!r}: {exc}") from None
        rows += batch.height
    if into_place:
        con.execute(f"DROP TABLE IF EXISTS {_quoted(name)}")
        con.execute(f"ALTER TABLE {_quoted(target)} RENAME TO {_quoted(name)}")
    return rows


def _sql_type(dtype: Any) -> str:
    if dtype == pl.Boolean:
        return "BOOLEAN"
    if dtype.is_integer():
        return "BIGINT"
    if dtype.is_float() or dtype.is_decimal():
        return "REAL"
    if dtype == pl.Date:
        return "DATE"
    if dtype == pl.Binary:
        return "BLOB"
    return "TEXT"


def _columns(source: Source) -> str:
    return ", ".join(f"{_quoted(c)} {_sql_type(t)}" for c, t in source.schema.items())


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rows(batch: pl.DataFrame) -> list[tuple[Any, ...]]:
    nested = [c for c, t in batch.schema.items() if isinstance(t, pl.List | pl.Struct | pl.Array)]
    if nested:  # kept as JSON text: SQLite has no nested type
        batch = batch.with_columns(
            pl.col(c).map_elements(json_text, return_dtype=pl.String) for c in nested
        )
    batch = batch.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%:z"))
    batch = batch.with_columns(pl.col(pl.Date).dt.to_string("%Y-%m-%d"))
    return batch.rows()
