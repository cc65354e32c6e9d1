"""write_table on a real SQLite file and a real PostgreSQL database: types, replace, append,
fail, and a failed write that leaves the old table whole."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest

from joliba.sdk.tables import TableError, write_table
from tests.conftest import temporary_postgres_database

FRAME = pl.DataFrame(
    {
        "district": ["Dosso", "Tahoua", None],
        "cases": [12, 7, 3],
        "rate": [0.5, None, 1.25],
        "reported": [True, False, None],
        "day": [date(2024, 1, 31), date(2024, 2, 29), None],
        "at": [datetime(2024, 3, 1, 9, 30, tzinfo=UTC), None, None],
        "tags": [["a", "b"], [], None],
    }
)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'workspace.db'}"
        return
    with temporary_postgres_database("joliba_tables") as url:
        yield url


def _read(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split("///", 1)[1]) as con:
            return con.execute(sql).fetchall()
    with psycopg.connect(url) as con:
        return con.execute(sql).fetchall()


def test_a_frame_becomes_a_table_and_replaces_the_old_one(database: str) -> None:
    assert write_table(FRAME, "cases", database) == 3
    rows = _read(database, "SELECT district, cases, rate, day, tags FROM cases ORDER BY cases")
    assert [r[:3] for r in rows] == [(None, 3, 1.25), ("Tahoua", 7, None), ("Dosso", 12, 0.5)]
    assert str(rows[2][3]) == "2024-01-31" and rows[2][4] == '["a", "b"]'
    moment = _read(database, "SELECT at FROM cases WHERE cases = 12")[0][0]
    assert str(moment).startswith("2024-03-01") and "09:30" in str(moment)

    write_table(FRAME.head(1), "cases", database)
    assert _read(database, "SELECT count(*) FROM cases") == [(1,)]
    write_table(FRAME.head(2), "cases", database, if_exists="append")
    assert _read(database, "SELECT count(*) FROM cases") == [(3,)]
    with pytest.raises(TableError, match="already exists"):
        write_table(FRAME, "cases", database, if_exists="fail")


def test_a_failed_write_leaves_the_old_table(database: str) -> None:
    write_table(FRAME, "kept", database)
    # A column PostgreSQL and SQLite both refuse: an object Python cannot bind.
    broken = pl.DataFrame({"x": [object()]}, schema={"x": pl.Object})
    with pytest.raises(Exception):  # noqa: B017 (each driver has its own error)
        write_table(broken, "kept", database)
    assert _read(database, "SELECT count(*) FROM kept") == [(3,)]
    with pytest.raises(Exception):  # noqa: B017 (the staged table went with the rollback)
        _read(database, "SELECT count(*) FROM kept__joliba_new")


def test_bad_names_and_missing_databases_are_refused(tmp_path: Path) -> None:
    with pytest.raises(TableError, match="table name 'drop table;'"):
        write_table(FRAME, "drop table;", f"sqlite:///{tmp_path / 'x.db'}")
    with pytest.raises(TableError, match="no database"):
        write_table(FRAME, "cases", None)
    with pytest.raises(TableError, match="not 'mysql'"):
        write_table(FRAME, "cases", "mysql://localhost/x")
