"""Org unit geometry as GeoParquet.

DHIS2 gives geometry as GeoJSON text (the ``geometry`` column of ``organisation_units()``).
``write_geoparquet`` turns it into WKB with the ``geo`` metadata GeoParquet readers (GeoPandas,
QGIS, DuckDB, GDAL) look for. DuckDB does the conversion: it parses GeoJSON, writes WKB and
computes the bounding box and geometry types in one pass, with no extra dependency.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import polars as pl


def write_geoparquet(frame: pl.DataFrame, path: str | Path, *, geometry: str = "geometry") -> Path:
    """Write ``frame`` to ``path`` with column ``geometry`` (GeoJSON text) as GeoParquet.

    Rows without geometry keep a null. Text that is not GeoJSON raises ``ValueError`` with
    DuckDB's reason, and nothing is left at ``path``.
    """
    if geometry not in frame.columns:
        raise ValueError(f"no column {geometry!r} to write as geometry")
    if frame.schema[geometry] != pl.String:
        raise ValueError(f"column {geometry!r} must be GeoJSON text, not {frame.schema[geometry]}")
    target = Path(path)
    partial = target.with_name(target.name + ".partial")
    columns = ", ".join(
        f"ST_GeomFromGeoJSON({_quoted(c)}) AS {_quoted(c)}" if c == geometry else _quoted(c)
        for c in frame.columns
    )
    with duckdb.connect() as con:
        con.register("frame", frame)
        try:
            # Names and path are quoted above; COPY takes no parameters for them.
            copy = f"COPY (SELECT {columns} FROM frame) TO '{_literal(partial)}' (FORMAT parquet)"  # noqa: S608
            con.execute(copy)
        except duckdb.Error as exc:
            partial.unlink(missing_ok=True)
            raise ValueError(f"{geometry!r} holds something that is not GeoJSON: {exc}") from None
    os.replace(partial, target)
    return target


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(path: Path) -> str:
    return str(path).replace("'", "''")
