"""A dataset table as a map layer: one GeoJSON feature per shape, with its value per period.

The shapes are a column of GeoJSON, WKT or WKB (found by name or by content when not
given). Rows are summed per shape, label and period in DuckDB, so a table of a million
values becomes a few hundred features; the page draws them as a choropleth with a period
slider. Nothing is fetched from the internet: the boundaries are the map.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import duckdb

from joliba.storage.profiling import plain
from joliba.storage.tables import TableError, literal, quote, schema_of

#: Most shapes a layer holds, and most (shape, period) values: more would not draw usefully.
MAX_FEATURES = 5000
MAX_VALUES = 500_000
#: Column names that say what they hold, in order of preference.
GEOMETRY_NAMES = ("geometry", "geom", "the_geom", "shape", "geojson", "wkt", "wkb")
PERIOD_NAMES = ("period", "pe", "month", "week", "date", "year", "periodid")
LABEL_NAMES = ("name", "org_unit_name", "organisationunitname", "district", "label", "ou_name")
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "REAL")


def layer(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    geometry: str = "",
    value: str = "",
    period: str = "",
    label: str = "",
    boundaries: Path | None = None,
    key: str = "",
    boundaries_key: str = "",
) -> dict[str, Any]:
    """The map layer of the Parquet table at ``path``; empty column names are guessed.

    With ``boundaries`` (another table, of shapes), a table with no shapes of its own is
    drawn with them: its ``key`` column matched to the boundaries' ``boundaries_key`` (by
    default the same name), and the boundaries' shape and name columns used."""
    source = f"read_parquet({literal(str(path))})"
    if boundaries is not None:
        source = _joined(con, path, boundaries, key, boundaries_key)
    columns = dict(_describe(con, source))
    geometry = geometry or _geometry_column(con, source, columns)
    # The period first: 202401 is a number, but it names a month, not an amount.
    period = period if period else _named(columns, PERIOD_NAMES, exclude={geometry, value})
    value = value or next(
        (c for c, t in columns.items() if _numeric(t) and c not in (geometry, period)), ""
    )
    label = label if label else _named(columns, LABEL_NAMES, exclude={geometry, value, period})
    chosen = {"geometry": geometry, "value": value, "period": period, "label": label}
    for role, name in chosen.items():
        if name and name not in columns:
            raise TableError(f"{role}: there is no column '{name}'")
    if not geometry:
        raise TableError("geometry: this table has no column of shapes (GeoJSON, WKT or WKB)")
    if value and not _numeric(columns[value]):
        raise TableError(f"value: '{value}' holds {columns[value].lower()}, not numbers")
    keys = [quote(geometry)] + [quote(c) for c in (label, period) if c]
    amount = f"sum({quote(value)})" if value else "count(*)"
    distinct = f"SELECT count(DISTINCT {quote(geometry)}) FROM {source}"  # noqa: S608 (quoted)
    counted = con.execute(distinct).fetchone()
    if counted and counted[0] > MAX_FEATURES:
        raise TableError(f"geometry: {counted[0]} shapes; a map draws at most {MAX_FEATURES}")
    result = con.execute(
        f"SELECT {', '.join(keys)}, {amount} FROM {source} "  # noqa: S608 (quoted names)
        f"WHERE {quote(geometry)} IS NOT NULL GROUP BY ALL LIMIT {MAX_VALUES + 1}"
    ).fetchall()
    if len(result) > MAX_VALUES:
        raise TableError(
            f"the map would hold more than {MAX_VALUES} values; choose a period column"
        )
    features: dict[Any, dict[str, Any]] = {}
    periods: set[str] = set()
    low, high = math.inf, -math.inf
    for row in result:
        shape, rest = row[0], list(row[1:])
        name = str(rest.pop(0)) if label else ""
        when = str(plain(rest.pop(0))) if period else ""
        amount_value = plain(rest[0])
        shape_key = shape if isinstance(shape, str | bytes) else str(shape)
        feature = features.get(shape_key)
        if feature is None:
            feature = features[shape_key] = {
                "type": "Feature",
                "geometry": to_geojson(shape),
                "properties": {"label": name, "values": {}},
            }
        if name and not feature["properties"]["label"]:
            feature["properties"]["label"] = name
        if isinstance(amount_value, int | float):
            feature["properties"]["values"][when] = amount_value
            low, high = min(low, amount_value), max(high, amount_value)
        periods.add(when)
    return {
        "type": "FeatureCollection",
        "features": list(features.values()),
        "periods": sorted(periods),
        "columns": chosen,
        "range": [low, high] if features and low <= high else None,
        "choices": {
            "numbers": [c for c, t in columns.items() if _numeric(t)],
            "all": list(columns),
        },
    }


def _joined(
    con: duckdb.DuckDBPyConnection, path: Path, boundaries: Path, key: str, boundaries_key: str
) -> str:
    """A subquery: the table's rows with the boundaries' columns that it lacks, matched on
    the key (rows without a match are left out)."""
    mine = dict(schema_of(con, path))
    theirs = dict(schema_of(con, boundaries))
    if not key:
        raise TableError("key: name the column that matches the boundaries (an org unit id)")
    boundaries_key = boundaries_key or key
    if key not in mine:
        raise TableError(f"key: there is no column '{key}' in the table")
    if boundaries_key not in theirs:
        raise TableError(f"boundaries_key: there is no column '{boundaries_key}' in the boundaries")
    added = [c for c in theirs if c not in mine]
    picked = ", ".join(f"b.{quote(c)}" for c in added)
    table = f"read_parquet({literal(str(path))})"
    shapes = f"read_parquet({literal(str(boundaries))})"
    return (
        f"(SELECT t.*{', ' + picked if picked else ''} FROM {table} AS t "  # noqa: S608 (quoted)
        f"JOIN {shapes} AS b ON CAST(t.{quote(key)} AS VARCHAR) = "
        f"CAST(b.{quote(boundaries_key)} AS VARCHAR)) AS joined"
    )


def _describe(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple[str, str]]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()  # noqa: S608 (built here)
    return [(str(r[0]), str(r[1])) for r in rows]


def to_geojson(shape: Any) -> dict[str, Any]:
    """A shape as a GeoJSON geometry: from GeoJSON text, WKT, or WKB (bytes or hex)."""
    import shapely

    try:
        if isinstance(shape, bytes | bytearray | memoryview):
            return dict(shapely.geometry.mapping(shapely.from_wkb(bytes(shape))))
        text = str(shape).strip()
        if text.startswith("{"):
            geometry = json.loads(text)
            if isinstance(geometry, dict) and geometry.get("type") == "Feature":
                geometry = geometry.get("geometry")
            if not isinstance(geometry, dict) or "type" not in geometry:
                raise ValueError("not a GeoJSON geometry")
            return geometry
        if all(c in "0123456789abcdefABCDEF" for c in text[:16]) and len(text) % 2 == 0:
            return dict(shapely.geometry.mapping(shapely.from_wkb(bytes.fromhex(text))))
        return dict(shapely.geometry.mapping(shapely.from_wkt(text)))
    except (ValueError, shapely.errors.ShapelyError) as exc:
        shown = str(shape)[:60]
        raise TableError(f"geometry: '{shown}' is not GeoJSON, WKT or WKB ({exc})") from None


def _numeric(kind: str) -> bool:
    return kind.upper().startswith(NUMERIC) or kind.upper().startswith("DECIMAL")


def _named(columns: dict[str, str], names: tuple[str, ...], *, exclude: set[str]) -> str:
    lowered = {c.lower(): c for c in columns if c not in exclude}
    return next((lowered[n] for n in names if n in lowered), "")


def _geometry_column(con: duckdb.DuckDBPyConnection, source: str, columns: dict[str, str]) -> str:
    """A column whose name says it holds shapes, else the first whose first value is one."""
    named = _named(columns, GEOMETRY_NAMES, exclude=set())
    if named:
        return named
    for column, kind in columns.items():
        if kind.upper() not in ("VARCHAR", "BLOB"):
            continue
        first = con.execute(
            f"SELECT {quote(column)} FROM {source} WHERE {quote(column)} IS NOT NULL LIMIT 1"  # noqa: S608
        ).fetchone()
        if first is None:
            continue
        try:
            to_geojson(first[0])
        except TableError:
            continue
        return column
    return ""
