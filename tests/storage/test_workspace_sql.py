"""Reading a workspace database for people, on a SQLite file and on PostgreSQL with the
workspace's own roles: who may write is the database's decision; limits and interrupts stop
what runs too long or too much."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from joliba.domain.workspace_databases import names_for, new_password
from joliba.storage import workspace_sql
from joliba.storage.table_reads import Filter, Sort
from joliba.storage.tables import Interrupt, TableError
from joliba.storage.workspace_postgres import WorkspaceServer
from joliba.storage.workspace_sql import Target
from tests.conftest import unique
from tests.fixtures.pg_cluster import Cluster

#: Counts without end (SQLite: a recursive CTE; PostgreSQL: a sleep).
ENDLESS = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
    "SELECT max(i) FROM n",
    "postgresql": "SELECT pg_sleep(60)",
}
MANY = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000) "
    "SELECT i FROM n",
    "postgresql": "SELECT i FROM generate_series(1, 5000) AS i",
}


@pytest.fixture(params=["sqlite", "postgresql"])
def targets(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Target, Target]]:
    """(engine, owner, reader) of one workspace database."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'workspace.sqlite'}"
        yield "sqlite", Target(url, writable=True), Target(url, writable=False)
        return
    # The workspace's two roles, made as Joliba makes them, on a cluster that checks passwords.
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    server = WorkspaceServer(cluster.url())
    names = names_for(unique("sql-"))
    owner, reader = new_password(), new_password()
    server.converge(names, owner_password=owner, reader_password=reader, active=True)
    yield (
        "postgresql",
        Target(server.url_for(names.owner, owner, names.database), writable=True),
        Target(server.url_for(names.reader, reader, names.database), writable=False),
    )


def _run(target: Target, sql: str, **limits: Any) -> dict[str, Any]:
    options: dict[str, Any] = {"max_rows": 100, "max_bytes": 1 << 20, "timeout": 10}
    options.update(limits)
    return workspace_sql.query(target, sql, interrupt=Interrupt(), **options)


def test_owners_write_readers_only_read(targets: tuple[str, Target, Target]) -> None:
    _engine, owner, reader = targets
    assert workspace_sql.list_tables(reader) == []  # nothing written yet
    made = _run(owner, "CREATE TABLE cases (district TEXT, month INTEGER, n INTEGER)")
    assert made["columns"] == [] and made["rows"] == []
    inserted = _run(
        owner, "INSERT INTO cases VALUES ('Dosso', 1, 12), ('Tahoua', 1, 7), ('Zinder', 2, NULL)"
    )
    assert inserted["changed"] == 3
    answer = _run(reader, "SELECT district, n FROM cases ORDER BY district")
    assert answer["rows"] == [["Dosso", 12], ["Tahoua", 7], ["Zinder", None]]
    assert [c["name"] for c in answer["columns"]] == ["district", "n"]
    for statement in (
        "INSERT INTO cases VALUES ('Agadez', 1, 1)",
        "DROP TABLE cases",
        "CREATE TABLE mine (x INTEGER)",
    ):
        with pytest.raises(TableError, match="may only read"):
            _run(reader, statement)
    tables = workspace_sql.list_tables(reader)
    assert [(t.name, t.rows) for t in tables] == [("cases", 3)]
    assert [name for name, _ in tables[0].columns] == ["district", "month", "n"]


def test_limits_and_interrupts_stop_a_query(targets: tuple[str, Target, Target]) -> None:
    engine, _owner, reader = targets
    cut = _run(reader, MANY[engine], max_rows=10)
    assert len(cut["rows"]) == 10 and cut["truncated_by"] == "rows"
    small = _run(reader, MANY[engine], max_bytes=200)
    assert small["truncated_by"] == "bytes" and 0 < len(small["rows"]) < 100
    with pytest.raises(TableError, match=r"took longer than 0\.5 s"):
        _run(reader, ENDLESS[engine], timeout=0.5)
    interrupt = Interrupt()
    threading.Timer(0.5, interrupt.fire, args=("was stopped: the client went away",)).start()
    with pytest.raises(TableError, match="the client went away"):
        workspace_sql.query(
            reader, ENDLESS[engine], max_rows=10, max_bytes=1 << 20, timeout=30, interrupt=interrupt
        )
    with pytest.raises(TableError, match="sql: "):
        _run(reader, "SELEKT 1")


def test_a_page_of_rows_with_sort_and_filters(targets: tuple[str, Target, Target]) -> None:
    _engine, owner, reader = targets
    _run(owner, "CREATE TABLE cases (district TEXT, n INTEGER)")
    _run(
        owner,
        "INSERT INTO cases VALUES ('Dosso', 12), ('Tahoua', 7), ('Zinder', NULL), ('Diffa', 3)",
    )
    page = workspace_sql.preview(
        reader,
        "cases",
        sort=[Sort("n", descending=True)],
        filters=[Filter("district", "contains", "d")],
    )
    assert page["total"] == 3  # Dosso, Diffa, Zinder (contains "d", any case)
    assert page["rows"] == [["Dosso", 12], ["Diffa", 3], ["Zinder", None]]
    page = workspace_sql.preview(
        reader, "cases", filters=[Filter("n", "gt", "5")], offset=1, limit=1
    )
    assert (page["total"] == 2 and page["rows"] == [["Tahoua", 7]]) or page["rows"] == [
        ["Dosso", 12]
    ]
    with pytest.raises(TableError, match="no column 'region'"):
        workspace_sql.preview(reader, "cases", sort=[Sort("region")])
    with pytest.raises(TableError, match="no table 'missing'"):
        workspace_sql.preview(reader, "missing")


def test_exports_hold_every_row_and_never_write(
    targets: tuple[str, Target, Target], tmp_path: Path
) -> None:
    _engine, owner, _reader = targets
    _run(owner, "CREATE TABLE cases (district TEXT, n INTEGER)")
    _run(owner, "INSERT INTO cases VALUES ('Dosso', 12), ('Ta\"houa, N', 7)")
    out = tmp_path / "out.csv"
    assert (
        workspace_sql.export(owner, "SELECT * FROM cases ORDER BY n", "csv", out, timeout=10) == 2
    )
    assert out.read_text().splitlines() == ["district,n", '"Ta""houa, N",7', "Dosso,12"]
    book = tmp_path / "out.xlsx"
    assert workspace_sql.export(owner, "SELECT * FROM cases", "xlsx", book, timeout=10) == 2
    assert book.read_bytes()[:2] == b"PK"
    with pytest.raises(TableError, match=r"may only read|returns rows"):
        workspace_sql.export(owner, "DELETE FROM cases", "csv", tmp_path / "x.csv", timeout=10)
    assert _run(owner, "SELECT count(*) FROM cases")["rows"] == [[2]]


def test_sql_opens_no_other_file_and_changes_no_setting(
    targets: tuple[str, Target, Target], tmp_path: Path
) -> None:
    engine, owner, reader = targets
    if engine == "sqlite":  # files the server could reach, and the file's own settings
        other = tmp_path / "other.db"
        attempts = [
            f"ATTACH DATABASE '{other}' AS other",
            f"VACUUM INTO '{tmp_path / 'copy.db'}'",
            "PRAGMA query_only = OFF",
            "PRAGMA writable_schema = ON",
        ]
    else:  # the server's files, and its settings
        attempts = [
            "COPY (SELECT 1) TO '/tmp/joliba-copy.csv'",
            "SELECT pg_read_file('/etc/hostname')",
        ]
    for target in (owner, reader):
        for statement in attempts:
            with pytest.raises(TableError):
                _run(target, statement)
    assert not (tmp_path / "other.db").exists() and not (tmp_path / "copy.db").exists()
