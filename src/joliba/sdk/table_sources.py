"""What ``write_table`` accepts, read as a schema and a stream of Polars batches.

A Polars frame (or lazy frame), a pandas or GeoPandas frame, a PyArrow table or record batch
reader, or the path of a Parquet file. A Parquet file is read a row group at a time and an
Arrow reader a batch at a time, so a table far larger than memory can be written.

Geometry columns are the ones named in ``geometry=``, those GeoParquet metadata names, and a
GeoPandas frame's. They hold WKB (binary), WKT or GeoJSON (text); each batch hands them on as
text (WKB as hex) with the encoding noted, and the database side turns them into geometry.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

#: Rows per batch: large enough for COPY to run at full speed, small enough that memory
#: stays flat whatever the size of the table.
BATCH = 100_000
WGS84 = 4326


class SourceError(ValueError):
    """What was given cannot be written as a table; the message says why."""


@dataclass
class Source:
    schema: pl.Schema
    batches: Iterator[pl.DataFrame]
    #: geometry column -> "wkb", "wkt" or "geojson"
    geometry: dict[str, str] = field(default_factory=dict)
    srid: int = WGS84


def open_source(data: Any, geometry: list[str], srid: int | None) -> Source:
    """Read ``data`` as batches; the geometry columns are those named and those its metadata
    names."""
    if isinstance(data, str | os.PathLike):
        return _parquet(Path(data), geometry, srid)
    module = type(data).__module__.split(".", 1)[0]
    if isinstance(data, pl.LazyFrame):
        data = data.collect()
    if isinstance(data, pl.DataFrame):
        return _finish(data.schema, data.iter_slices(BATCH), geometry, {}, srid, data)
    if module == "pyarrow":
        return _arrow(data, geometry, srid)
    if module in ("pandas", "geopandas"):
        return _pandas(data, geometry, srid)
    raise SourceError(
        "write a Polars or pandas frame, a PyArrow table or reader, or a Parquet file's path; "
        f"not {type(data).__name__}"
    )


def _parquet(path: Path, geometry: list[str], srid: int | None) -> Source:
    import pyarrow.parquet as pq

    if not path.is_file():
        raise SourceError(f"no Parquet file at {path}")
    try:
        reader = pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's errors name the problem; ours names the file
        raise SourceError(f"{path.name} is not a Parquet file ({exc})") from None
    metadata = reader.schema_arrow.metadata or {}
    schema = pl.Schema(pl.from_arrow(reader.schema_arrow.empty_table()).schema)  # type: ignore[union-attr]

    def batches() -> Iterator[pl.DataFrame]:
        for batch in reader.iter_batches(batch_size=BATCH):
            yield _frame(batch)
        reader.close()

    return _finish(schema, batches(), geometry, _geoparquet(metadata), srid, None)


def _arrow(data: Any, geometry: list[str], srid: int | None) -> Source:
    import pyarrow as pa

    if isinstance(data, pa.RecordBatchReader):
        arrow_schema, parts = data.schema, iter(data)
    elif isinstance(data, pa.Table):
        arrow_schema, parts = data.schema, iter(data.to_batches(BATCH))
    elif isinstance(data, pa.RecordBatch):
        arrow_schema, parts = data.schema, iter([data])
    else:
        raise SourceError(f"a PyArrow {type(data).__name__} is not a table")
    schema = pl.Schema(pl.from_arrow(arrow_schema.empty_table()).schema)  # type: ignore[union-attr]
    batches = (_frame(part) for part in parts)
    return _finish(schema, batches, geometry, _geoparquet(arrow_schema.metadata or {}), srid, None)


def _pandas(data: Any, geometry: list[str], srid: int | None) -> Source:
    found: dict[str, int | None] = {}
    if hasattr(data, "to_wkb") and hasattr(data, "geometry"):  # a GeoPandas frame
        for name in data.columns:
            if str(data[name].dtype) == "geometry":
                crs = data[name].crs
                found[str(name)] = crs.to_epsg() if crs is not None else None
        data = data.to_wkb()
    frame = pl.from_pandas(data)
    return _finish(frame.schema, frame.iter_slices(BATCH), geometry, found, srid, frame)


def _frame(part: Any) -> pl.DataFrame:
    frame = pl.from_arrow(part)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _geoparquet(metadata: dict[bytes, bytes]) -> dict[str, int | None]:
    """GeoParquet's geometry columns with their EPSG code (None: not said; the spec's
    default is longitude/latitude on WGS 84)."""
    raw = metadata.get(b"geo")
    if not raw:
        return {}
    try:
        columns = json.loads(raw).get("columns") or {}
    except ValueError:
        return {}
    found: dict[str, int | None] = {}
    for name, about in columns.items():
        crs = about.get("crs") if isinstance(about, dict) else None
        code = crs.get("id", {}).get("code") if isinstance(crs, dict) else None
        found[str(name)] = int(str(code)) if str(code).isdigit() else None
    return found


def _finish(
    schema: pl.Schema,
    batches: Iterator[pl.DataFrame],
    named: list[str],
    described: dict[str, int | None],
    srid: int | None,
    sample: pl.DataFrame | None,
) -> Source:
    for column in named:
        if column not in schema:
            raise SourceError(f"geometry column {column!r} is not a column of the table")
    codes = {c for c in described.values() if c is not None}
    chosen = srid or (codes.pop() if len(codes) == 1 else WGS84)
    columns = [*named, *(c for c in described if c not in named and c in schema)]
    geometry: dict[str, str] = {}
    for column in columns:
        dtype = schema[column]
        if dtype == pl.Binary:
            geometry[column] = "wkb"
        elif dtype in (pl.String, pl.Null):  # Null: no value at all in this data
            geometry[column] = _text_encoding(sample, column)
        else:
            raise SourceError(
                f"geometry column {column!r} holds {dtype}: it must hold WKB, WKT or GeoJSON"
            )
    source = Source(schema=schema, batches=batches, geometry=geometry, srid=chosen)
    if geometry and sample is None:  # streamed: the text encoding is seen in the first batch
        source.batches = _peeking(source, batches)
    return source


def _text_encoding(sample: pl.DataFrame | None, column: str) -> str:
    if sample is None:
        return "wkt"
    first = sample.get_column(column).drop_nulls().head(1).to_list()
    return "geojson" if first and str(first[0]).lstrip().startswith("{") else "wkt"


def _peeking(source: Source, batches: Iterator[pl.DataFrame]) -> Iterator[pl.DataFrame]:
    first = next(batches, None)
    if first is None:
        return
    for column, encoding in source.geometry.items():
        if encoding != "wkb":
            source.geometry[column] = _text_encoding(first, column)
    yield first
    yield from batches


def json_text(value: Any) -> str:
    """A nested value (list, struct, array) as JSON text: no database shares a nested type."""
    return json.dumps(value.to_list() if hasattr(value, "to_list") else value, default=str)
