"""``workspace.write_table(name, data)``: a table of the workspace database, all or nothing.

The database is SQLite (``sqlite:///path``) or PostgreSQL (``postgresql://…``); ``data`` is a
Polars, pandas or GeoPandas frame, a PyArrow table or reader, or a Parquet file's path, read
in batches so memory does not grow with the rows (``table_sources.py``). PostgreSQL gets the
rows through ``COPY`` (``table_postgres.py``), SQLite through batched inserts
(``table_sqlite.py``). Readers see the old table or the whole new one; a failure leaves the
old table as it was. The SDK stays free of SQLAlchemy (a rule of the project's layering), so
each uses its own driver.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
IfExists = Literal["replace", "append", "upsert", "fail"]
IF_EXISTS = ("replace", "append", "upsert", "fail")


class TableError(ValueError):
    """A table that cannot be written: a bad name or key, a missing database, an existing
    table, rows the table refuses."""


def write_table(
    data: Any,
    name: str,
    database_url: str | None,
    *,
    if_exists: IfExists = "replace",
    key: str | Sequence[str] | None = None,
    geometry: str | Sequence[str] | None = None,
    srid: int | None = None,
) -> int:
    """Write ``data`` as table ``name``; return the number of rows written.

    ``if_exists``: ``replace`` (default), ``append``, ``upsert`` (rows whose ``key`` is there
    are updated, the others added) or ``fail``. ``key``: the column(s) that tell rows apart;
    with ``replace`` they become the table's primary key. ``geometry``: columns holding WKB,
    WKT or GeoJSON (GeoParquet and GeoPandas say theirs), stored as PostGIS geometry with
    ``srid`` (default: the data's own, else 4326, longitude/latitude).
    """
    keys = _names(key, "key")
    shapes = _names(geometry, "geometry")
    if not NAME.match(name or ""):
        raise TableError(
            f"table name {name!r}: use letters, digits and _ (not first), at most 63 characters"
        )
    if if_exists not in IF_EXISTS:
        raise TableError(f"if_exists must be {', '.join(IF_EXISTS)}, not {if_exists!r}")
    if if_exists == "upsert" and not keys:
        raise TableError("if_exists='upsert' needs key=: the column(s) that tell rows apart")
    if not database_url:
        raise TableError(
            "this workspace has no database: set database_url in workspace.yaml for local runs"
        )
    scheme = urlsplit(database_url).scheme.split("+")[0]
    if scheme not in ("sqlite", "postgresql", "postgres"):
        raise TableError(
            f"workspace databases are SQLite or PostgreSQL, not {scheme or database_url!r}"
        )
    from joliba.sdk import table_postgres, table_sqlite
    from joliba.sdk.table_sources import SourceError, open_source

    try:
        source = open_source(data, shapes, srid)
    except SourceError as exc:
        raise TableError(f"table {name!r}: {exc}") from None
    missing = [k for k in keys if k not in source.schema]
    if missing:
        raise TableError(f"table {name!r}: key column(s) {', '.join(missing)} not in the data")
    try:
        if scheme == "sqlite":
            return table_sqlite.write(source, name, database_url, if_exists, keys)
        return table_postgres.write(source, name, database_url, if_exists, keys)
    except (table_sqlite.SqliteTableError, table_postgres.PostgresTableError) as exc:
        raise TableError(str(exc)) from None


def _names(value: str | Sequence[str] | None, what: str) -> list[str]:
    if value is None:
        return []
    names = [value] if isinstance(value, str) else list(value)
    if not all(isinstance(n, str) and n for n in names):
        raise TableError(f"{what}: column names, not {value!r}")
    return names
