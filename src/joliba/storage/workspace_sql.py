"""Reading a workspace's own database for people: its tables, a page of rows, their SQL.

The database is the workspace's SQLite file or its PostgreSQL database. Who may write is
decided by how it is opened, not by reading the SQL: a reader opens the SQLite file
read-only (``mode=ro`` and ``query_only``) or PostgreSQL as the workspace's read-only role,
which holds no right to write; a writer opens it as the owner. Every statement is stopped
after a time limit or when its interrupt fires (the client went away), and answers are
fetched a few rows at a time and cut at a row limit and at a size limit.
"""

from __future__ import annotations

import contextlib
import csv
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql as pgsql

from joliba.storage.profiling import plain
from joliba.storage.table_reads import (
    ANSWER_KEYS,
    EXCEL_MAX_ROWS,
    FILTER_OPS,
    Filter,
    RowSource,
    Sort,
    fetch,
    json_size,
    order_by,
)
from joliba.storage.tables import Interrupt, TableError

#: The SQLite progress handler runs every this many virtual machine steps.
_SQLITE_STEPS = 20_000


@dataclass(frozen=True)
class Target:
    """Where to read: ``sqlite:///path`` or ``postgresql://role:password@host/db``, and
    whether what is run there may write."""

    url: str
    writable: bool

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def path(self) -> Path:
        return Path(self.url.split("///", 1)[1])


@dataclass(frozen=True)
class TableInfo:
    name: str
    columns: list[tuple[str, str]]
    rows: int
    #: ``rows`` is PostgreSQL's estimate (from its statistics), not a count.
    estimated: bool = False


#: From this many rows (by PostgreSQL's statistics) a table's rows are estimated, not counted:
#: counting reads the whole table, and the Database page lists every table.
ESTIMATE_FROM = 1_000_000


class _Cancel:
    """psycopg's connection as :class:`Interrupt` wants it: ``interrupt`` cancels the
    statement the server is running."""

    def __init__(self, con: psycopg.Connection[Any]) -> None:
        self.con = con

    def interrupt(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self.con.cancel_safe(timeout=5)


@contextlib.contextmanager
def _connect(
    target: Target, *, timeout: float, interrupt: Interrupt | None = None
) -> Iterator[Any]:
    """A DB-API connection to ``target`` whose statements stop after ``timeout`` seconds."""
    if target.is_sqlite:
        with _sqlite(target, timeout, interrupt) as con:
            yield con
        return
    try:
        con = psycopg.connect(target.url, connect_timeout=10)
    except psycopg.OperationalError as exc:
        raise TableError(f"the workspace database cannot be reached: {_first(exc)}") from None
    with con:
        con.execute(
            pgsql.SQL("SET statement_timeout = {}").format(pgsql.Literal(int(timeout * 1000)))
        )
        if not target.writable:
            con.execute("SET default_transaction_read_only = on")
        con.commit()
        if interrupt is not None:
            interrupt.attach(_Cancel(con))
        try:
            yield con
        finally:
            if interrupt is not None:
                interrupt.detach()


@contextlib.contextmanager
def _sqlite(target: Target, timeout: float, interrupt: Interrupt | None) -> Iterator[Any]:
    path = target.path
    if target.writable:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    elif path.exists():
        con = sqlite3.connect(
            f"file:{path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        con.execute("PRAGMA query_only = ON")
    else:  # nothing written yet: an empty database, and still none on disk
        con = sqlite3.connect(":memory:", check_same_thread=False)
        con.execute("PRAGMA query_only = ON")
    con.execute("PRAGMA busy_timeout = 5000")
    # From here on, people's SQL: no other file (ATTACH, and VACUUM INTO, which attaches
    # its target, would open or write any file the server can), no setting changed.
    con.set_authorizer(_sqlite_guard)
    deadline = time.monotonic() + timeout

    def stop() -> int:
        late = time.monotonic() > deadline
        return 1 if late or (interrupt is not None and interrupt.reason) else 0

    con.set_progress_handler(stop, _SQLITE_STEPS)
    if interrupt is not None:
        interrupt.attach(con)
    try:
        yield con
    finally:
        if interrupt is not None:
            interrupt.detach()
        con.close()


#: The pragmas a statement may use: they read a table's shape.
_READING_PRAGMAS = frozenset({"table_info", "table_xinfo", "index_list", "index_info"})


def _sqlite_guard(action: int, first: str | None, second: str | None, *_: object) -> int:
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH):
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (first or "").lower() not in _READING_PRAGMAS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def list_tables(target: Target, *, timeout: float = 10, counts: bool = True) -> list[TableInfo]:
    """The database's tables (and views), with their columns and row counts (0 without
    ``counts``, which reads every table)."""
    found: list[TableInfo] = []
    with _connect(target, timeout=timeout) as con:
        for name in _table_names(con, target):
            columns = _columns(con, target, name)
            rows, estimated = _row_count(con, target, name) if counts else (0, False)
            found.append(TableInfo(name, list(columns.items()), rows, estimated))
    return found


def _row_count(con: Any, target: Target, table: str) -> tuple[int, bool]:
    if not target.is_sqlite:
        guess = con.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            (_quote(table),),
        ).fetchone()
        if guess is not None and guess[0] is not None and int(guess[0]) >= ESTIMATE_FROM:
            return int(guess[0]), True
    counted = con.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()  # noqa: S608
    return (int(counted[0]) if counted else 0), False


def _table_names(con: Any, target: Target) -> list[str]:
    if target.is_sqlite:
        rows = con.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        ).fetchall()
    else:
        rows = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
            "AND table_name NOT IN ('spatial_ref_sys', 'geography_columns', "
            "'geometry_columns') ORDER BY table_name"
        ).fetchall()
    return [str(r[0]) for r in rows]


def _columns(con: Any, target: Target, table: str) -> dict[str, str]:
    if target.is_sqlite:
        rows = con.execute("SELECT name, type FROM pragma_table_info(?)", (table,)).fetchall()
    else:
        rows = con.execute(
            "SELECT column_name, CASE WHEN data_type = 'USER-DEFINED' THEN udt_name "
            "ELSE data_type END FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position",
            (table,),
        ).fetchall()
    return {str(name): str(kind or "").lower() for name, kind in rows}


def preview(
    target: Target,
    table: str,
    *,
    offset: int = 0,
    limit: int = 25,
    sort: list[Sort] | None = None,
    filters: list[Filter] | None = None,
    max_bytes: int = 4 * 1024 * 1024,
    timeout: float = 30,
) -> dict[str, Any]:
    """A page of one table's rows with the total that matches the filters."""
    with _connect(target, timeout=timeout) as con:
        if table not in _table_names(con, target):
            raise TableError(f"table: there is no table '{table}'")
        columns = _columns(con, target, table)
        where, params = _where(columns, filters or [], sqlite=target.is_sqlite)
        order = order_by(columns, sort or [])
        described = [{"name": n, "type": t} for n, t in columns.items()]
        mark = "?" if target.is_sqlite else "%s"
        source = f"SELECT * FROM {_quote(table)}{where}"  # noqa: S608 (quoted, bound)
        try:
            counting = f"SELECT count(*) FROM ({source}) AS t"  # noqa: S608 (quoted, bound)
            total = con.execute(counting, params).fetchone()
            cursor = con.execute(
                f"{source}{order} LIMIT {mark} OFFSET {mark}", [*params, limit, offset]
            )
            rows, cut = fetch(
                cursor, max_rows=limit, max_bytes=max_bytes - json_size(described), at_least=1
            )
        except (sqlite3.Error, psycopg.Error) as exc:
            raise TableError(f"filter: {_first(exc)}") from None
    return {
        "columns": described,
        "rows": rows,
        "total": int(total[0]) if total else 0,
        "truncated": cut == "bytes",
    }


def _where(
    columns: dict[str, str], filters: list[Filter], *, sqlite: bool
) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    mark = "?" if sqlite else "%s"
    for item in filters:
        if item.column not in columns:
            raise TableError(f"filter: there is no column '{item.column}'")
        if item.op not in FILTER_OPS:
            raise TableError(f"filter: '{item.op}' is not one of {', '.join(FILTER_OPS)}")
        col = _quote(item.column)
        if item.op == "contains":
            clauses.append(
                f"CAST({col} AS TEXT) LIKE {mark}" if sqlite else f"{col}::text ILIKE {mark}"
            )
            params.append(f"%{item.value}%")
            continue
        template = FILTER_OPS[item.op]
        if "{value}" in template:
            params.append(item.value)
        # Compared as text on PostgreSQL when the column's type would refuse a text value.
        value = mark if sqlite else f"CAST({mark} AS {_pg_cast(columns[item.column])})"
        clauses.append(template.format(col=col, value=value))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _pg_cast(kind: str) -> str:
    simple = {
        "bigint",
        "integer",
        "smallint",
        "double precision",
        "real",
        "numeric",
        "boolean",
        "date",
        "text",
        "character varying",
        "timestamp without time zone",
        "timestamp with time zone",
    }
    return kind if kind in simple else "text"


def query(
    target: Target,
    sql: str,
    *,
    max_rows: int,
    max_bytes: int,
    timeout: float,
    interrupt: Interrupt,
) -> dict[str, Any]:
    """Run one statement. An answer with rows says whether they were cut (``truncated_by``);
    a statement without rows (a writer's ``CREATE``, ``INSERT``…) says how many rows it
    changed. A reader's statement that would write is refused by the database itself."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise TableError("sql: write a query")
    try:
        with _connect(target, timeout=timeout, interrupt=interrupt) as con:
            cursor = con.execute(text)
            if cursor.description is None:
                changed = cursor.rowcount
                con.commit()
                return {
                    "columns": [],
                    "rows": [],
                    "truncated": False,
                    "truncated_by": None,
                    "changed": changed if changed >= 0 else None,
                }
            columns = [{"name": d[0], "type": _type_name(d)} for d in cursor.description]
            budget = max_bytes - json_size(columns) - len(ANSWER_KEYS)
            rows, cut = fetch(_Guarded(cursor, interrupt), max_rows=max_rows, max_bytes=budget)
            con.rollback()  # a reading leaves nothing behind
    except (sqlite3.Error, psycopg.Error) as exc:
        raise TableError(_refusal(exc, target, interrupt, timeout)) from None
    return {
        "columns": columns,
        "rows": rows,
        "truncated": cut is not None,
        "truncated_by": cut,
        "changed": None,
    }


class _Guarded:
    """A cursor whose reads stop once the interrupt has fired."""

    def __init__(self, cursor: RowSource, interrupt: Interrupt) -> None:
        self.cursor, self.interrupt = cursor, interrupt

    def fetchmany(self, size: int = 1, /) -> list[Any]:
        if self.interrupt.reason:
            raise TableError(f"sql: the query {self.interrupt.reason}")
        return list(self.cursor.fetchmany(size))


def export(target: Target, sql: str, fmt: str, out: Path, *, timeout: float) -> int:
    """Write the rows of one reading statement to ``out`` as ``fmt`` (csv, xlsx); returns
    the number of rows. Nothing here may write to the database."""
    if fmt not in ("csv", "xlsx"):
        raise TableError(f"format: '{fmt}' is not one of csv, xlsx")
    reading = Target(target.url, writable=False)
    try:
        with _connect(reading, timeout=timeout) as con:
            cursor = con.execute(sql.strip().rstrip(";"))
            if cursor.description is None:
                raise TableError("sql: only a query that returns rows can be exported")
            names = [d[0] for d in cursor.description]
            if fmt == "csv":
                return _write_csv(cursor, names, out)
            return _write_xlsx(cursor, names, out)
    except (sqlite3.Error, psycopg.Error) as exc:
        raise TableError(_refusal(exc, reading, None, timeout)) from None


def _write_csv(cursor: Any, names: list[str], out: Path) -> int:
    count = 0
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(names)
        while batch := cursor.fetchmany(5000):
            writer.writerows([_cell(v) for v in row] for row in batch)
            count += len(batch)
    return count


def _write_xlsx(cursor: Any, names: list[str], out: Path) -> int:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    count = 0
    try:
        sheet = book.add_worksheet("data")
        sheet.write_row(0, 0, names)
        while batch := cursor.fetchmany(5000):
            for row in batch:
                count += 1
                if count > EXCEL_MAX_ROWS:
                    raise TableError(
                        f"format: an Excel sheet holds at most {EXCEL_MAX_ROWS} rows; this "
                        "query returns more (export it as CSV)"
                    )
                sheet.write_row(count, 0, [_cell(v) for v in row])
    finally:
        book.close()
    return count


def _cell(value: Any) -> Any:
    shown = plain(value) if not isinstance(value, bytes) else value.hex()
    return shown if isinstance(shown, int | float | str | bool) or shown is None else str(shown)


def _type_name(column: Any) -> str:
    """psycopg names a column's type; sqlite3 does not."""
    return str(getattr(column, "type_display", "") or "")


def _refusal(
    exc: BaseException, target: Target, interrupt: Interrupt | None, timeout: float
) -> str:
    if interrupt is not None and interrupt.reason:
        return f"sql: the query {interrupt.reason}"
    if isinstance(exc, psycopg.errors.QueryCanceled) or "interrupted" in str(exc):
        return f"sql: the query took longer than {timeout:g} s and was stopped"
    if not target.writable and (
        isinstance(
            exc, psycopg.errors.ReadOnlySqlTransaction | psycopg.errors.InsufficientPrivilege
        )
        or "readonly" in str(exc).replace(" ", "").lower()
        or "query_only" in str(exc)
    ):
        return f"sql: your role may only read this database ({_first(exc)})"
    return f"sql: {_first(exc)}"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
