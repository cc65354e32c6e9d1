"""Reading tables for people: a page with sort and filters, read-only SQL, and exports.

Every statement here is built from quoted identifiers and bound parameters; the only SQL a
user writes goes through :func:`query`, which accepts one SELECT that names no file and no
file-reading function, and runs it on a connection that can read the version's own tables
and nothing else (no other file, no network, no setting changed back), stopped after a time
limit or when its interrupt fires, and cut at a row limit and at a size limit.

Answers are fetched a few rows at a time and cut as soon as their JSON would pass the size
limit, so a query matching gigabytes costs the server about one batch beyond the limit.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb

from joliba.storage.profiling import plain
from joliba.storage.tables import Interrupt, TableError, literal, lock_down, quote, schema_of

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
#: Most rows fetched from DuckDB at once (fewer when rows are wide; see :func:`fetch`).
FETCH_ROWS = 1000
#: Bytes of rows an Excel export holds in memory at once, roughly.
XLSX_BATCH_BYTES = 8 * 1024 * 1024
#: Table functions a query may call: they make rows and read no file.
SAFE_TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "generate_series",
        "unnest",
        "repeat",
        "repeat_row",
        "json_each",
        "json_tree",
        "pg_timezone_names",
        "icu_calendar_names",
    }
)
#: A name in FROM that DuckDB could read as a file (``FROM 'x.csv'``) or glob.
_PATH_LIKE = re.compile(r"[./\\:~*?\[\]{}]")
#: What an answer holds besides its columns, rows and table names, at its longest.
ANSWER_KEYS = '{"columns":,"rows":,"truncated":false,"truncated_by":"bytes","tables":}'
ONLY_TABLES = "sql: a query may read only this version's tables (no other file, no network)"


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


def order_by(columns: dict[str, str], sort: list[Sort]) -> str:
    """``ORDER BY`` for ``sort`` (nulls last), each column checked against ``columns``."""
    for item in sort:
        if item.column not in columns:
            raise TableError(f"sort: there is no column '{item.column}'")
    keys = [f"{quote(s.column)} {'DESC' if s.descending else 'ASC'} NULLS LAST" for s in sort]
    return (" ORDER BY " + ", ".join(keys)) if keys else ""


def json_size(value: Any) -> int:
    """Bytes of ``value`` as the API sends it (compact JSON, UTF-8)."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


class RowSource(Protocol):
    """A result to read rows from a few at a time: DuckDB's, or any DB-API cursor."""

    def fetchmany(self, size: int = ..., /) -> list[Any]: ...


def fetch(
    result: RowSource,
    *,
    max_rows: int,
    max_bytes: int,
    at_least: int = 0,
    interrupt: Interrupt | None = None,
) -> tuple[list[list[Any]], str | None]:
    """The rows of ``result``, made plain: at most ``max_rows`` of them, and only as many as
    fit in ``max_bytes`` of JSON (but at least ``at_least``). Also says why it stopped
    early: ``"rows"``, ``"bytes"``, or None when every row came.

    Rows come from DuckDB's stream in batches sized so that a batch fits in what is left
    of ``max_bytes`` (judged by the widest row so far), never the whole result at once.
    """
    rows: list[list[Any]] = []
    used = 2  # the brackets of the list
    widest = 1
    batch_size = 1  # the first row tells how wide rows are
    while True:
        if interrupt is not None and interrupt.reason:
            raise duckdb.InterruptException(interrupt.reason)
        batch = result.fetchmany(batch_size)
        if not batch:
            return rows, None
        for raw in batch:
            if len(rows) >= max_rows:
                return rows, "rows"
            row = [plain(v) for v in raw]
            size = json_size(row) + 1  # and the comma
            if used + size > max_bytes and len(rows) >= at_least:
                return rows, "bytes"
            rows.append(row)
            used += size
            widest = max(widest, size)
        room = (max_bytes - used) // widest
        batch_size = max(1, min(FETCH_ROWS, room, max_rows + 1 - len(rows)))


def preview(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    offset: int = 0,
    limit: int = 50,
    sort: list[Sort] | None = None,
    filters: list[Filter] | None = None,
    max_bytes: int = 16 * 1024 * 1024,
) -> dict[str, Any]:
    """One page of rows with the total that matches the filters. A page whose rows would
    pass ``max_bytes`` of JSON is cut short (``truncated``), keeping at least one row so
    that paging on from ``offset + len(rows)`` always moves."""
    columns = _columns(con, path)
    where, params = _where(columns, filters or [])
    source = f"read_parquet({literal(str(path))})"
    described = [{"name": n, "type": t} for n, t in columns.items()]
    try:
        total = con.execute(f"SELECT count(*) FROM {source}{where}", params).fetchone()
        result = con.execute(
            f"SELECT * FROM {source}{where}{order_by(columns, sort or [])} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        rows, cut = fetch(
            result, max_rows=limit, max_bytes=max_bytes - json_size(described), at_least=1
        )
    except duckdb.ConversionException as exc:
        raise TableError(f"filter: {_message(exc)}") from None
    return {
        "columns": described,
        "rows": rows,
        "total": int(total[0]) if total else 0,
        "truncated": cut == "bytes",
    }


def check_select(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Only one statement, and a SELECT: anything that writes or sets is refused up front."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.InterruptException:
        raise  # the caller says why it was stopped
    except duckdb.Error as exc:
        raise TableError(f"sql: {_message(exc)}") from None
    if len(statements) != 1:
        raise TableError(f"sql: send exactly one statement, not {len(statements)}")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = statements[0].type.name.lower()
        raise TableError(f"sql: only SELECT queries are allowed (this is a {kind} statement)")


def check_reads(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """The query reads tables, never files: every table function it calls is one of
    :data:`SAFE_TABLE_FUNCTIONS` (no read_csv, read_parquet, read_text, glob, query…) and no
    name in its FROM looks like a path. DuckDB lets a locked-down connection read its own
    spill folder, so this is what keeps a query out of it (other files the lock refuses)."""
    found = con.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()
    tree: dict[str, Any] = json.loads(found[0]) if found and found[0] else {"error": True}
    if tree.get("error"):
        raise TableError(f"sql: {tree.get('error_message') or 'this query cannot be read'}")
    for node in _nodes(tree.get("statements", [])):
        if node.get("type") == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = str(function.get("function_name", "")).lower()
            if name not in SAFE_TABLE_FUNCTIONS:
                raise TableError(f"{ONLY_TABLES}; {name}() is not allowed")
        named: list[Any] = [node.get("table_name")]
        if node.get("type") == "SHOW_REF":
            named += (node.get("qualified_name") or {}).get("path") or []
        for table in named:
            if isinstance(table, str) and _PATH_LIKE.search(table):
                raise TableError(f"{ONLY_TABLES}; '{table}' is not one of them")


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every object in a JSON tree."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def query(
    con: duckdb.DuckDBPyConnection,
    tables: dict[str, Path],
    sql: str,
    *,
    max_rows: int,
    max_bytes: int,
    timeout: float,
    interrupt: Interrupt,
) -> dict[str, Any]:
    """Run a user's SELECT over ``tables`` (SQL name → Parquet path) on ``con``, which
    ``interrupt`` is attached to (see ``TableCache.reading``); it fires after ``timeout``
    seconds. The answer says whether rows were cut, and why (``truncated_by``)."""
    timer = threading.Timer(
        timeout, interrupt.fire, args=(f"took longer than {timeout:g} s and was stopped",)
    )
    timer.daemon = True
    timer.start()
    try:
        # The checks run DuckDB too: a client that hangs up meanwhile interrupts them.
        check_select(con, sql)
        check_reads(con, sql)
        if interrupt.reason:
            raise duckdb.InterruptException(interrupt.reason)
        for name, path in tables.items():
            con.execute(
                f"CREATE VIEW {quote(name)} AS SELECT * FROM read_parquet({literal(str(path))})"
            )
        lock_down(con, [str(p) for p in tables.values()])
        result = con.execute(sql)
        names = [d[0] for d in result.description or []]
        types = [str(d[1]) for d in result.description or []]
        columns = [{"name": n, "type": t} for n, t in zip(names, types, strict=True)]
        budget = max_bytes - json_size(columns) - len(ANSWER_KEYS)
        rows, cut = fetch(result, max_rows=max_rows, max_bytes=budget, interrupt=interrupt)
    except duckdb.InterruptException:
        raise TableError(f"sql: the query {interrupt.reason or 'was stopped'}") from None
    except duckdb.PermissionException:
        raise TableError(ONLY_TABLES) from None
    except duckdb.Error as exc:
        raise TableError(f"sql: {_message(exc)}") from None
    finally:
        timer.cancel()
    return {"columns": columns, "rows": rows, "truncated": cut is not None, "truncated_by": cut}


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
    """Rows streamed into the sheet in batches of about :data:`XLSX_BATCH_BYTES` (at most
    10 000 rows; fewer when rows are wide), in xlsxwriter's constant-memory mode."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(target), {"constant_memory": True})
    try:
        sheet = book.add_worksheet("data")
        result = con.execute(f"SELECT * FROM {source}")
        sheet.write_row(0, 0, [d[0] for d in result.description or []])
        line, size = 1, 1
        while batch := result.fetchmany(size):
            for values in batch:
                sheet.write_row(line, 0, [_cell(v) for v in values])
                line += 1
            width = sum(len(v) if isinstance(v, str | bytes) else 8 for v in batch[-1]) + 1
            size = max(1, min(10_000, XLSX_BATCH_BYTES // width))
    finally:
        book.close()


def _cell(value: Any) -> Any:
    shown = plain(value)
    return shown if isinstance(shown, int | float | str | bool) or shown is None else str(shown)


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
