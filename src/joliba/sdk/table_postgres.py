"""``write_table`` on PostgreSQL: batches as CSV through ``COPY``, all in one transaction.

The rows always go to a staging table first: for ``replace`` it then takes the old table's
place; for ``append`` and ``upsert`` (a temporary table) its rows are inserted into the
table, merged on the key for ``upsert``. A failure anywhere rolls back everything: readers
see the old table or the whole new one. Geometry columns arrive as text (WKB in hex, WKT or
GeoJSON) and become PostGIS ``geometry`` with their SRID where the database has PostGIS, or
stay as given where it does not.
"""

from __future__ import annotations

import io
from typing import Any

import polars as pl
import psycopg
from psycopg import sql

from joliba.sdk.table_sources import Source, json_text

Connection = psycopg.Connection[tuple[Any, ...]]


class PostgresTableError(ValueError):
    """Raised with a message naming the table; tables.py re-raises it as its TableError."""


def write(source: Source, name: str, url: str, if_exists: str, key: list[str]) -> int:
    url = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as con, con.transaction():
        present = _exists(con, name)
        if present and if_exists == "fail":
            raise PostgresTableError(f"table {name!r} already exists")
        # Without PostGIS, geometry columns stay as given: WKB as bytea, WKT or GeoJSON text.
        postgis = bool(
            con.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
        )
        if not postgis:
            source.geometry = {}
        into_place = not present or if_exists == "replace"
        staged = f"{name[:45]}__joliba_new" if into_place else "joliba_staged"
        con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(staged)))
        con.execute(
            sql.SQL("CREATE {} TABLE {} ({})").format(
                sql.SQL("" if into_place else "TEMPORARY"),
                sql.Identifier(staged),
                _columns(source),
            )
        )
        rows = _copy(con, staged, source)
        geometry = _geometry_expressions(source)
        if into_place:
            _into_place(con, staged, name, source, geometry, key)
        else:
            _merge(con, staged, name, source, geometry, key, upsert=if_exists == "upsert")
        return rows


def _exists(con: Connection, name: str) -> bool:
    found = con.execute("SELECT to_regclass(%s) IS NOT NULL", (f'"{name}"',)).fetchone()
    return bool(found and found[0])


def _copy(con: Connection, table: str, source: Source) -> int:
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in source.schema)
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, NULL '\\N')").format(
        sql.Identifier(table), columns
    )
    rows = 0
    with con.cursor().copy(statement) as copy:
        for batch in source.batches:
            copy.write(csv_bytes(batch, source))
            rows += batch.height
    return rows


def csv_bytes(batch: pl.DataFrame, source: Source) -> bytes:
    """The batch as CSV that COPY reads back exactly: nulls unquoted ``\\N``, every text
    quoted (so a text ``\\N`` stays text), binaries in hex, nested values as JSON."""
    changes = []
    for column, dtype in batch.schema.items():
        if isinstance(dtype, pl.List | pl.Struct | pl.Array):
            changes.append(pl.col(column).map_elements(json_text, return_dtype=pl.String))
        elif dtype == pl.Binary:
            hexed = pl.col(column).bin.encode("hex")
            changes.append(
                hexed
                if column in source.geometry
                else pl.concat_str(pl.lit("\\x"), hexed).alias(column)
            )
    if changes:
        batch = batch.with_columns(changes)
    buffer = io.BytesIO()
    batch.write_csv(buffer, include_header=False, null_value="\\N", quote_style="non_numeric")
    return buffer.getvalue()


def _sql_type(dtype: Any) -> str:
    if dtype == pl.Boolean:
        return "BOOLEAN"
    if dtype.is_integer():
        return "BIGINT"
    if dtype.is_float() or dtype.is_decimal():
        return "DOUBLE PRECISION"
    if dtype == pl.Date:
        return "DATE"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    if dtype == pl.Binary:
        return "BYTEA"
    return "TEXT"


def _columns(source: Source) -> sql.Composed:
    """The staged table's columns: geometry arrives as text, made geometry after COPY."""
    parts = []
    for column, dtype in source.schema.items():
        kind = "TEXT" if column in source.geometry else _sql_type(dtype)
        parts.append(sql.SQL("{} {}").format(sql.Identifier(column), sql.SQL(kind)))
    return sql.SQL(", ").join(parts)


def _geometry_expressions(source: Source) -> dict[str, sql.Composable]:
    """How each staged geometry column (text) becomes PostGIS geometry."""
    make = {
        "wkb": "ST_GeomFromWKB(decode({}, 'hex'), {})",
        "wkt": "ST_GeomFromText({}, {})",
        "geojson": "ST_SetSRID(ST_GeomFromGeoJSON({}), {})",
    }
    return {
        column: sql.SQL(make[encoding]).format(sql.Identifier(column), sql.Literal(source.srid))
        for column, encoding in source.geometry.items()
    }


def _into_place(
    con: Connection,
    staged: str,
    name: str,
    source: Source,
    geometry: dict[str, sql.Composable],
    key: list[str],
) -> None:
    table = sql.Identifier(staged)
    for column, expression in geometry.items():
        kind = sql.SQL("geometry(Geometry, {})").format(sql.Literal(source.srid))
        con.execute(
            sql.SQL("ALTER TABLE {} ALTER COLUMN {} TYPE {} USING {}").format(
                table, sql.Identifier(column), kind, expression
            )
        )
    if key:
        try:
            with con.transaction():
                con.execute(
                    sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                        table, sql.SQL(", ").join(sql.Identifier(k) for k in key)
                    )
                )
        except psycopg.errors.UniqueViolation:
            raise PostgresTableError(
                f"table {name!r}: the key ({', '.join(key)}) has the same value on several rows"
            ) from None
        except psycopg.errors.NotNullViolation:
            raise PostgresTableError(
                f"table {name!r}: the key ({', '.join(key)}) is empty on some rows"
            ) from None
    con.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
    con.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(table, sql.Identifier(name)))


def _merge(
    con: Connection,
    staged: str,
    name: str,
    source: Source,
    geometry: dict[str, sql.Composable],
    key: list[str],
    *,
    upsert: bool,
) -> None:
    columns = list(source.schema)
    values = sql.SQL(", ").join(geometry.get(c, sql.Identifier(c)) for c in columns)
    statement = sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {}").format(
        sql.Identifier(name),
        sql.SQL(", ").join(sql.Identifier(c) for c in columns),
        values,
        sql.Identifier(staged),
    )
    if upsert:
        others = [c for c in columns if c not in key]
        action = (
            sql.SQL("DO UPDATE SET {}").format(
                sql.SQL(", ").join(
                    sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c))
                    for c in others
                )
            )
            if others
            else sql.SQL("DO NOTHING")
        )
        statement = sql.SQL("{} ON CONFLICT ({}) {}").format(
            statement, sql.SQL(", ").join(sql.Identifier(k) for k in key), action
        )
    try:
        with con.transaction():
            con.execute(statement)
    except psycopg.errors.InvalidColumnReference:
        raise PostgresTableError(
            f"table {name!r} has no unique key on ({', '.join(key)}): write it once with "
            f"if_exists='replace' and key={key!r}, then upsert"
        ) from None
    except psycopg.errors.CardinalityViolation:
        raise PostgresTableError(
            f"table {name!r}: the rows written have the same key ({', '.join(key)}) more than once"
        ) from None
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PostgresTableError(f"table {name!r}: {first}") from None
    con.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(staged)))
