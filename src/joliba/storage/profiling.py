"""Column profiles of a table, computed by DuckDB in two scans with bounded memory.

The first scan gathers, for every column, the non-null count, the distinct count (exact up
to :data:`EXACT_DISTINCT_ROWS` rows, HyperLogLog past that), min, max, mean and the most
frequent values; the second counts those values exactly and fills a histogram for numeric
and date columns. Geometry columns (GeoJSON or WKT text) get their bounding box.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from joliba.storage.tables import literal, quote, schema_of

EXACT_DISTINCT_ROWS = 100_000
TOP_VALUES = 5
HISTOGRAM_BINS = 10
SAMPLE_ROWS = 20

NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
)
TEMPORAL = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS")
_WKT = re.compile(r"^(MULTI)?(POINT|LINESTRING|POLYGON)\s*(Z|M|ZM)?\s*\(", re.IGNORECASE)
_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?"

Progress = Callable[[float], None]


def is_numeric(type_: str) -> bool:
    return type_.split("(")[0] in NUMERIC


def is_temporal(type_: str) -> bool:
    return type_.split("(")[0] in TEMPORAL or type_.startswith("TIMESTAMP")


def is_nested(type_: str) -> bool:
    return type_.endswith("]") or type_.startswith(("STRUCT", "MAP", "UNION", "JSON"))


def plain(value: Any) -> Any:
    """A value as JSON can hold it (dates as ISO text, NaN as None, bytes as base64)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value[:64]).decode()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return str(value)


def profile(
    con: duckdb.DuckDBPyConnection, path: Path, progress: Progress | None = None
) -> dict[str, Any]:
    """The profile of the Parquet table at ``path`` (see module doc); ``progress`` gets 0..1."""
    report = progress or (lambda _fraction: None)
    source = f"read_parquet({literal(str(path))})"
    columns = schema_of(con, path)
    rows = int(con.execute(f"SELECT count(*) FROM {source}").fetchone()[0])  # type: ignore[index]
    report(0.05)
    stats = _first_scan(con, source, columns, rows)
    report(0.6)
    _second_scan(con, source, columns, stats)
    report(0.9)
    _geometry(con, source, columns, stats)
    sample = con.execute(f"SELECT * FROM {source} LIMIT {SAMPLE_ROWS}").fetchall()
    report(1.0)
    return {
        "rows": rows,
        "columns": [stats[name] for name, _type in columns],
        "sample": {
            "columns": [name for name, _type in columns],
            "rows": [[plain(v) for v in row] for row in sample],
        },
    }


def _first_scan(
    con: duckdb.DuckDBPyConnection, source: str, columns: list[tuple[str, str]], rows: int
) -> dict[str, dict[str, Any]]:
    exact = rows <= EXACT_DISTINCT_ROWS
    parts: list[str] = []
    keys: list[tuple[str, str]] = []
    for name, type_ in columns:
        col = quote(name)
        value = f"{col}::VARCHAR" if is_nested(type_) or type_ == "GEOMETRY" else col
        parts.append(f"count({col})")
        keys.append((name, "non_null"))
        parts.append(f"count(DISTINCT {value})" if exact else f"approx_count_distinct({value})")
        keys.append((name, "distinct"))
        if not is_nested(type_) and type_ not in ("BLOB", "GEOMETRY"):
            parts += [f"min({col})", f"max({col})"]
            keys += [(name, "min"), (name, "max")]
        if is_numeric(type_):
            parts.append(f"avg({col})")
            keys.append((name, "mean"))
        if not (is_nested(type_) or type_ in ("FLOAT", "DOUBLE", "BLOB", "GEOMETRY")):
            # Continuous numbers have no meaningful "most frequent"; their histogram says more.
            parts.append(f"approx_top_k({col}, {TOP_VALUES})")
            keys.append((name, "top"))
    values = con.execute(f"SELECT {', '.join(parts)} FROM {source}").fetchone() or ()
    stats: dict[str, dict[str, Any]] = {
        name: {"name": name, "type": type_, "distinct_exact": exact} for name, type_ in columns
    }
    for (name, key), value in zip(keys, values, strict=True):
        stats[name][key] = value
    for column in stats.values():
        column["nulls"] = rows - column.pop("non_null")
    return stats


def _second_scan(
    con: duckdb.DuckDBPyConnection,
    source: str,
    columns: list[tuple[str, str]],
    stats: dict[str, dict[str, Any]],
) -> None:
    """Exact counts of the top values, and histograms, in one more scan."""
    parts: list[str] = []
    params: list[Any] = []
    plan: list[tuple[str, str, Any]] = []
    for name, type_ in columns:
        column = stats[name]
        col = quote(name)
        for value in column.get("top") or []:
            parts.append(f"count(*) FILTER (WHERE {col} = ?)")
            params.append(value)
            plan.append((name, "top", value))
        low, high = column.get("min"), column.get("max")
        if low is None or high is None or low == high:
            continue
        if is_numeric(type_):
            x, lo, hi = f"{col}::DOUBLE", float(low), float(high)
        elif is_temporal(type_):
            x, lo, hi = f"epoch({col})", _epoch(low), _epoch(high)
        else:
            continue
        width = (hi - lo) / HISTOGRAM_BINS
        parts.append(
            f"histogram(least(floor(({x} - {lo!r}) / {width!r})::INTEGER, {HISTOGRAM_BINS - 1}))"
            f" FILTER (WHERE {col} IS NOT NULL)"
        )
        plan.append((name, "histogram", (lo, width)))
    for column in stats.values():
        column["top"] = []
    if not parts:
        return
    values = con.execute(f"SELECT {', '.join(parts)} FROM {source}", params).fetchone() or ()
    for (name, key, extra), value in zip(plan, values, strict=True):
        column = stats[name]
        if key == "top":
            column["top"].append({"value": plain(extra), "count": int(value)})
        else:
            lo, width = extra
            counts = value or {}
            column["histogram"] = [
                {
                    "start": _shown(column["type"], lo + i * width),
                    "end": _shown(column["type"], lo + (i + 1) * width),
                    "count": int(counts.get(i, 0)),
                }
                for i in range(HISTOGRAM_BINS)
            ]
    for column in stats.values():
        column["top"].sort(key=lambda item: -item["count"])
        for key in ("min", "max", "mean"):
            if key in column:
                column[key] = plain(column[key])


def _epoch(value: Any) -> float:
    """Seconds since 1970 as DuckDB's ``epoch()`` counts them (naive times read as UTC)."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC).timestamp()
    return float(value)


def _shown(type_: str, edge: float) -> Any:
    if type_ == "DATE":
        return datetime.fromtimestamp(edge, UTC).date().isoformat()
    if is_temporal(type_):
        return datetime.fromtimestamp(edge, UTC).isoformat()
    return round(edge, 10)


def _geometry(
    con: duckdb.DuckDBPyConnection,
    source: str,
    columns: list[tuple[str, str]],
    stats: dict[str, dict[str, Any]],
) -> None:
    """Geometry columns (DuckDB's GEOMETRY, GeoJSON or WKT text): mark them and compute the
    bounding box (x = odd positions of the coordinate list, y = even ones; a third dimension
    is not expected)."""
    for name, type_ in columns:
        col = quote(name)
        if type_ == "GEOMETRY":
            col = f"ST_AsGeoJSON({col})::VARCHAR"
        elif type_ != "VARCHAR":
            continue
        first = con.execute(
            f"SELECT {col} FROM {source} WHERE {quote(name)} IS NOT NULL LIMIT 1"
        ).fetchone()
        text = str(first[0]).lstrip() if first else ""
        if text.startswith("{") and '"coordinates"' in text:
            coords = f"json_extract_string({col}, '$.coordinates')"
            encoding = "geojson"
        elif _WKT.match(text):
            coords, encoding = col, "wkt"
        else:
            continue
        numbers = f"list_transform(regexp_extract_all({coords}, '{_NUMBER}'), lambda s: s::DOUBLE)"
        box = con.execute(
            f"""SELECT min(list_min(list_filter(n, lambda v, i: i % 2 = 1))),
                       min(list_min(list_filter(n, lambda v, i: i % 2 = 0))),
                       max(list_max(list_filter(n, lambda v, i: i % 2 = 1))),
                       max(list_max(list_filter(n, lambda v, i: i % 2 = 0)))
                FROM (SELECT {numbers} AS n FROM {source} WHERE {quote(name)} IS NOT NULL)"""
        ).fetchone()
        if box and None not in box:
            stats[name]["geometry"] = {"encoding": encoding, "bbox": [plain(v) for v in box]}
            stats[name]["top"] = []
