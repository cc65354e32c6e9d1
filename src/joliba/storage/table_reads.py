"""Reading tables for people: a page with sort and filters, read-only SQL, and exports.

Every statement here is built from quoted identifiers and bound parameters; the only SQL a
user writes goes through :func:`query`, which accepts one SELECT and runs it on a
connection that can read the version's own tables and nothing else (no other file, no
network, no setting changed back), stopped after a time limit and cut at a row limit.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from joliba.storage.profiling import plain
from joliba.storage.tables import TableError, literal, lock_down, quote, schema_of

FILTER_OPS = {
    "eq": "{col} = {value}",
    "ne": "{col} <> {value}",
    "lt": "{col} < {value}",
    "le": "{col} <= {value}",
    "gt": "{col} > {value}",
    "ge": "{col} >= {value}",
    "contains": "CAST({col} AS VARCHAR) ILIKE '%' || ? || '%'",
    "null": "{col} IS NULL",
    "notnull": "{col} IS NOT NULL",
}
EXCEL_MAX_ROWS = 1_048_575  # one row of the sheet holds the header


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: str = ""


@dataclass(frozen=True)
class Sort:
    column: str
    descending: bool = False


def _columns(con: duckdb.DuckDBPyConnection, path: Path) -> dict[str, str]:
    return dict(schema_of(con, path))


def _where(columns: dict[str, str], filters: list[Filter]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for item in filters:
        if item.column not in columns:
            raise TableError(f"filter: there is no column '{item.column}'")
        if item.op not in FILTER_OPS:
            raise TableError(f"filter: '{item.op}' is not one of {', '.join(FILTER_OPS)}")
        col = quote(item.column)
        template = FILTER_OPS[item.op]
        if item.op == "contains" or "{value}" in template:
            params.append(item.value)
        clauses.append(template.format(col=col, value=f"CAST(? AS {columns[item.column]})"))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _order(columns: dict[str, str], sort: list[Sort]) -> str:
    for item in sort:
        if item.column not in columns:
            raise TableError(f"sort: there is no column '{item.column}'")
    keys = [f"{quote(s.column)} {'DESC' if s.descending else 'ASC'} NULLS LAST" for s in sort]
    return (" ORDER BY " + ", ".join(keys)) if keys else ""


def preview(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    offset: int = 0,
    limit: int = 50,
    sort: list[Sort] | None = None,
    filters: list[Filter] | None = None,
) -> dict[str, Any]:
    """One page of rows with the total that matches the filters."""
    columns = _columns(con, path)
    where, params = _where(columns, filters or [])
    source = f"read_parquet({literal(str(path))})"
    try:
        total = con.execute(f"SELECT count(*) FROM {source}{where}", params).fetchone()
        rows = con.execute(
            f"SELECT * FROM {source}{where}{_order(columns, sort or [])} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
    except duckdb.ConversionException as exc:
        raise TableError(f"filter: {_message(exc)}") from None
    return {
        "columns": [{"name": n, "type": t} for n, t in columns.items()],
        "rows": [[plain(v) for v in row] for row in rows],
        "total": int(total[0]) if total else 0,
    }


def check_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Only one statement, and a SELECT: anything that writes or sets is refused up front."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise TableError(f"sql: {_message(exc)}") from None
    if len(statements) != 1:
        raise TableError(f"sql: send exactly one statement, not {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name.lower()
        raise TableError(f"sql: only SELECT queries are allowed (this is a {kind} statement)")


def query(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, Path],
    sql: str,
    *,
    max_rows: int,
    timeout: float,
) -> dict[str, Any]:
    """Run a user's SELECT over ``tables`` (SQL name → Parquet path)."""
    check_select(con, sql)
    for name, path in tables.items():
        con.execute(
            f"CREATE VIEW {quote(name)} AS SELECT * FROM read_parquet({literal(str(path))})"
        )
    lock_down(con, [str(p) for p in tables.values()])
    timer = threading.Timer(timeout, con.interrupt)
    timer.start()
    try:
        result = con.execute(sql)
        names = [d[0] for d in result.description or []]
        types = [str(d[1]) for d in result.description or []]
        rows = result.fetchmany(max_rows + 1)
    except duckdb.InterruptException:
        raise TableError(f"sql: the query took longer than {timeout:g} s and was stopped") from None
    except duckdb.PermissionException:
        raise TableError(
            "sql: a query may read only this version's tables (no other file, no network)"
        ) from None
    except duckdb.Error as exc:
        raise TableError(f"sql: {_message(exc)}") from None
    finally:
        timer.cancel()
    return {
        "columns": [{"name": n, "type": t} for n, t in zip(names, types, strict=True)],
        "rows": [[plain(v) for v in row] for row in rows[:max_rows]],
        "truncated": len(rows) > max_rows,
    }


def export(con: duckdb.DuckDBPyConnection, path: Path, fmt: str, target: Path) -> int:
    """Write the whole table at ``path`` as ``fmt`` (csv, parquet, xlsx) to ``target``;
    returns the number of rows."""
    source = f"read_parquet({literal(str(path))})"
    row = con.execute(f"SELECT count(*) FROM {source}").fetchone()
    rows = int(row[0]) if row else 0
    if fmt == "csv":
        con.execute(f"COPY (SELECT * FROM {source}) TO {literal(str(target))} (FORMAT csv)")
    elif fmt == "parquet":
        con.execute(
            f"COPY (SELECT * FROM {source}) TO {literal(str(target))} "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
    elif fmt == "xlsx":
        if rows > EXCEL_MAX_ROWS:
            raise TableError(
                f"format: an Excel sheet holds at most {EXCEL_MAX_ROWS} rows; this table has "
                f"{rows} (download it as CSV or Parquet)"
            )
        _write_xlsx(con, source, target)
    else:
        raise TableError(f"format: '{fmt}' is not one of csv, parquet, xlsx")
    return rows


def _write_xlsx(con: duckdb.DuckDBPyConnection, source: str, target: Path) -> None:
    """Rows streamed into the sheet in batches (xlsxwriter's constant-memory mode)."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(target), {"constant_memory": True})
    try:
        sheet = book.add_worksheet("data")
        result = con.execute(f"SELECT * FROM {source}")
        sheet.write_row(0, 0, [d[0] for d in result.description or []])
        line = 1
        while batch := result.fetchmany(10_000):
            for values in batch:
                sheet.write_row(line, 0, [_cell(v) for v in values])
                line += 1
    finally:
        book.close()


def _cell(value: Any) -> Any:
    shown = plain(value)
    return shown if isinstance(shown, int | float | str | bool) or shown is None else str(shown)


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
