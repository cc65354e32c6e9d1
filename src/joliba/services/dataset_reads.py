"""The table work of reading a version: preview, SQL, export and diff, on DuckDB.

These take the file rows they need, return plain results and log nothing: edges read
through :mod:`joliba.services.dataset_reading`, which loads the rows, runs these with no
transaction open and records each read in the access log. Each reading runs on a DuckDB
connection of its own that spills to a private folder, removed when it ends.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from joliba.db.tables import DatasetFile
from joliba.domain.errors import Invalid
from joliba.storage import table_diff, table_maps, table_reads
from joliba.storage.table_reads import Filter, Sort, json_size
from joliba.storage.tables import Interrupt, TableCache, TableError, table_name

EXPORT_FORMATS = ("csv", "parquet", "xlsx")


def check_table(row: DatasetFile) -> None:
    if row.kind == "file":
        raise Invalid(
            f"'{row.name}' is not a table (Parquet, CSV, Excel, JSON or GeoJSON)",
            details={"field": "name"},
        )


def _parquet(cache: TableCache, row: DatasetFile) -> Path:
    check_table(row)
    try:
        return cache.parquet(row.sha256, row.kind)
    except TableError as exc:
        raise Invalid(f"{row.name}: {exc}") from None


def preview(
    cache: TableCache,
    row: DatasetFile,
    *,
    offset: int,
    limit: int,
    sort: list[Sort],
    filters: list[Filter],
    max_bytes: int,
) -> dict[str, Any]:
    path = _parquet(cache, row)
    try:
        with cache.reading("preview") as con:
            return table_reads.preview(
                con,
                path,
                offset=offset,
                limit=limit,
                sort=sort,
                filters=filters,
                max_bytes=max_bytes,
            )
    except TableError as exc:
        raise Invalid(str(exc)) from None


def tables_of(rows: Sequence[DatasetFile]) -> dict[str, DatasetFile]:
    """SQL names of a version's tables: the file name without extension (``t_…`` if it
    starts with a digit), with ``_2``… added if two files give the same name."""
    named: dict[str, DatasetFile] = {}
    for row in rows:
        if row.kind == "file":
            continue
        base = name = table_name(row.name)
        number = 2
        while name in named:
            name, number = f"{base}_{number}", number + 1
        named[name] = row
    return named


def query(
    cache: TableCache,
    rows: Sequence[DatasetFile],
    sql: str,
    *,
    max_rows: int,
    max_bytes: int,
    timeout: float,
    interrupt: Interrupt | None = None,
) -> dict[str, Any]:
    """At most ``max_rows`` rows, and no more than fit in ``max_bytes`` of JSON with the
    version's table names; ``interrupt`` (fired from another thread) stops the query."""
    tables = {name: _parquet(cache, row) for name, row in tables_of(rows).items()}
    if not tables:
        raise Invalid("this version has no tables to query")
    interrupt = interrupt or Interrupt()
    try:
        with cache.reading("query", interrupt) as con:
            return table_reads.query(
                con,
                tables,
                sql,
                max_rows=max_rows,
                max_bytes=max_bytes - json_size(list(tables)),
                timeout=timeout,
                interrupt=interrupt,
            )
    except TableError as exc:
        raise Invalid(str(exc), details={"field": "sql"}) from None


def export(cache: TableCache, row: DatasetFile, fmt: str) -> tuple[Path, int]:
    """The table written as ``fmt`` to a temporary file (the caller deletes it) and its
    row count."""
    if fmt not in EXPORT_FORMATS:
        raise Invalid(
            f"format: '{fmt}' is not one of {', '.join(EXPORT_FORMATS)}",
            details={"field": "format"},
        )
    path = _parquet(cache, row)
    cache.root.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        dir=cache.root, prefix=".export-", suffix=f".{fmt}", delete=False
    ) as handle:
        target = Path(handle.name)
    try:
        with cache.reading("export") as con:
            rows = table_reads.export(con, path, fmt, target)
    except TableError as exc:
        target.unlink(missing_ok=True)
        raise Invalid(str(exc), details={"field": "format"}) from None
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target, rows


def diff(
    cache: TableCache,
    old: Sequence[DatasetFile],
    new: Sequence[DatasetFile],
    *,
    key: list[str] | None = None,
) -> dict[str, Any]:
    """Files added, removed, changed and unchanged; for changed tables, schema and row
    counts, and rows by ``key`` where the table has those columns."""
    before = {f.name: f for f in old}
    after = {f.name: f for f in new}
    changed = [n for n in before if n in after and before[n].sha256 != after[n].sha256]
    tables: dict[str, Any] = {}
    for name in changed:
        a, b = before[name], after[name]
        if a.kind == "file" or b.kind == "file":
            continue
        paths = _parquet(cache, a), _parquet(cache, b)
        try:
            with cache.reading("diff") as con:
                tables[name] = table_diff.diff(con, *paths, key)
        except TableError as exc:
            tables[name] = {"error": str(exc)}
    return {
        "added": sorted(n for n in after if n not in before),
        "removed": sorted(n for n in before if n not in after),
        "changed": sorted(changed),
        "unchanged": sorted(n for n in before if n in after and n not in changed),
        "tables": tables,
    }


def map_layer(
    cache: TableCache,
    row: DatasetFile,
    boundaries: DatasetFile | None = None,
    **columns: str,
) -> dict[str, Any]:
    """The table as a map layer (``storage/table_maps.py``), drawn with the shapes of
    ``boundaries`` when given; ``columns``: geometry, value, period, label (empty: guessed),
    key and boundaries_key (the join)."""
    path = _parquet(cache, row)
    shapes = _parquet(cache, boundaries) if boundaries is not None else None
    try:
        with cache.reading("map") as con:
            return table_maps.layer(con, path, boundaries=shapes, **columns)
    except TableError as exc:
        raise Invalid(str(exc), details={"field": str(exc).split(":", 1)[0]}) from None
