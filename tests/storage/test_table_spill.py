"""DuckDB readings of dataset tables: each spills to a private folder no query can read,
removed when the reading ends however it ends; answers are cut at a size as well as a row
limit without the whole result ever being in memory; an interrupt stops a query.

These use real DuckDB connections over real Parquet files; only the test of a starting
server involves the metadata database (on both backends).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import duckdb
import pytest

from joliba.runner.profiler import Profiler
from joliba.services.platform import Platform
from joliba.storage import spill
from joliba.storage.objects import ObjectStore
from joliba.storage.table_reads import json_size, preview, query
from joliba.storage.tables import Interrupt, Limits, TableCache, TableError, literal, lock_down
from tests.fixtures.waiting import eventually

MIB = 1024 * 1024


@pytest.fixture
def cache(tmp_path: Path) -> TableCache:
    store = ObjectStore(str(tmp_path / "store"))
    return TableCache(store.blobs(), tmp_path / "tables", Limits(memory_mb=128, threads=1))


@pytest.fixture
def table(tmp_path: Path) -> Path:
    path = tmp_path / "cases.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT i AS id, 'district ' || (i % 7) AS district, repeat('x', 2000) AS note "
        f"FROM range(2000) t(i)) TO {literal(str(path))} (FORMAT parquet)"
    )
    con.close()
    return path


def temp_directory(con: duckdb.DuckDBPyConnection) -> Path:
    found = con.execute("SELECT current_setting('temp_directory')").fetchone()
    assert found is not None
    return Path(found[0])


def allowed_directories(con: duckdb.DuckDBPyConnection) -> list[str]:
    found = con.execute("SELECT current_setting('allowed_directories')").fetchone()
    assert found is not None
    return list(found[0])


def plant(folder: Path) -> dict[str, Path]:
    """Real files a query must not read: a CSV and a Parquet with a secret in them."""
    csv = folder / "secret.csv"
    csv.write_text("status\nHIV positive\n")
    parquet = folder / "secret.parquet"
    con = duckdb.connect()
    con.execute(f"COPY (SELECT 'HIV positive' AS status) TO {literal(str(parquet))}")
    con.close()
    return {"csv": csv, "parquet": parquet}


def test_two_concurrent_readings_spill_to_private_folders(cache: TableCache, table: Path) -> None:
    seen: dict[str, Path] = {}
    both_open = threading.Barrier(3)  # both readings and this test
    locked: dict[str, list[str]] = {}

    def read(kind: str) -> None:
        with cache.reading(kind) as con:
            folder = temp_directory(con)
            seen[kind] = folder
            lock_down(con, [str(table)])
            locked[kind] = allowed_directories(con)
            both_open.wait(timeout=10)
            both_open.wait(timeout=10)  # the test looks at both folders in between

    threads = [threading.Thread(target=read, args=(k,)) for k in ("query", "preview")]
    for thread in threads:
        thread.start()
    both_open.wait(timeout=10)
    try:
        query_folder, preview_folder = seen["query"], seen["preview"]
        assert query_folder != preview_folder
        for folder in (query_folder, preview_folder):
            assert folder.parent == cache.spill_root and folder.is_dir()
            assert folder.stat().st_mode & 0o777 == 0o700
        assert cache.spill_root.stat().st_mode & 0o777 == 0o700
        assert sorted(cache.running()) == sorted([query_folder, preview_folder])
        assert cache.running("query") == [query_folder]
        # Once locked, a connection may reach its own folder and no other.
        assert locked["query"] == [f"{query_folder}/"]
        assert locked["preview"] == [f"{preview_folder}/"]
    finally:
        both_open.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=10)
    assert not query_folder.exists() and not preview_folder.exists()
    assert cache.running() == []


def test_a_locked_connection_cannot_read_another_readings_spill(
    cache: TableCache, table: Path
) -> None:
    with cache.reading("preview") as other, cache.reading("query") as con:
        secrets = plant(temp_directory(other))
        lock_down(con, [str(table)])
        for sql in (
            f"SELECT * FROM read_csv({literal(str(secrets['csv']))})",
            f"SELECT * FROM read_parquet({literal(str(secrets['parquet']))})",
            f"SELECT * FROM glob({literal(str(temp_directory(other)) + '/*')})",
            f"SELECT * FROM glob({literal(str(cache.spill_root) + '/*')})",
        ):
            with pytest.raises(duckdb.PermissionException):
                con.execute(sql).fetchall()


SqlOf = Callable[[Path, dict[str, Path]], str]


def tried(cache: TableCache, table: Path, sql_of: SqlOf) -> str:
    """Run the SQL ``sql_of(own spill folder, secrets planted in it)`` as a user query."""
    interrupt = Interrupt()
    with cache.reading("query", interrupt) as con:
        folder = temp_directory(con)
        secrets = plant(folder)
        sql = sql_of(folder, secrets)
        with pytest.raises(TableError) as refused:
            query(
                con,
                {"cases": table},
                sql,
                max_rows=100,
                max_bytes=MIB,
                timeout=30,
                interrupt=interrupt,
            )
    return str(refused.value)


@pytest.mark.parametrize(
    "sql_of",
    [
        lambda d, s: f"SELECT * FROM read_csv({literal(str(s['csv']))})",
        lambda d, s: f"SELECT * FROM read_csv_auto({literal(str(s['csv']))})",
        lambda d, s: f"SELECT * FROM read_parquet({literal(str(s['parquet']))})",
        lambda d, s: f"SELECT * FROM parquet_scan([{literal(str(s['parquet']))}])",
        lambda d, s: f"SELECT * FROM read_text({literal(str(s['csv']))})",
        lambda d, s: f"SELECT * FROM read_blob({literal(str(d) + '/*')})",
        lambda d, s: f"SELECT * FROM glob({literal(str(d) + '/*')})",
        lambda d, s: f"SELECT * FROM {literal(str(s['csv']))}",
        lambda d, s: f'SELECT * FROM "{s["parquet"]}"',
        lambda d, s: f"DESCRIBE {literal(str(s['csv']))}",
        lambda d, s: f"SUMMARIZE {literal(str(s['csv']))}",
        lambda d, s: "SELECT * FROM read_csv(current_setting('temp_directory') || '/secret.csv')",
        lambda d, s: "SELECT * FROM glob(current_setting('temp_directory') || '/*')",
        lambda d, s: f"SELECT * FROM query('SELECT * FROM read_csv(''{s['csv']}'')')",
        lambda d, s: (
            "SELECT c.id, t.* FROM cases c, LATERAL "
            f"(SELECT * FROM read_csv({literal(str(s['csv']))})) t LIMIT 1"
        ),
        lambda d, s: (
            f"WITH x AS (SELECT * FROM read_parquet({literal(str(s['parquet']))})) SELECT * FROM x"
        ),
    ],
)
def test_a_query_cannot_read_its_own_spill_folder(
    cache: TableCache, table: Path, sql_of: SqlOf
) -> None:
    message = tried(cache, table, sql_of)
    assert "only this version's tables" in message, message
    assert "HIV" not in message
    assert cache.running() == [] and list(cache.spill_root.iterdir()) == []


def test_allowed_table_functions_still_work(cache: TableCache, table: Path) -> None:
    interrupt = Interrupt()
    with cache.reading("query", interrupt) as con:
        answer = query(
            con,
            {"cases": table},
            "WITH d AS (SELECT district, count(*) AS n FROM cases GROUP BY 1) "
            "SELECT d.district, d.n, r.range FROM d, range(2) r "
            "WHERE d.district = 'district 3' ORDER BY 3",
            max_rows=100,
            max_bytes=MIB,
            timeout=30,
            interrupt=interrupt,
        )
    assert answer["rows"] == [["district 3", 286, 0], ["district 3", 286, 1]]
    assert answer["truncated"] is False and answer["truncated_by"] is None


def test_the_spill_folder_goes_when_a_reading_fails(cache: TableCache) -> None:
    folders: list[Path] = []
    with pytest.raises(duckdb.Error), cache.reading("query") as con:
        folders.append(temp_directory(con))
        con.execute("SELECT * FROM no_such_table")
    with pytest.raises(KeyboardInterrupt), cache.reading("export") as con:
        folders.append(temp_directory(con))
        raise KeyboardInterrupt
    assert folders and not any(f.exists() for f in folders)
    assert cache.running() == []


class _Announcing:
    """A reading's connection that sets ``started`` when it is given ``statement`` to run."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, statement: str, started: threading.Event
    ) -> None:
        self._con = con
        self._statement = statement
        self._started = started

    def execute(self, statement: str, *args: Any) -> duckdb.DuckDBPyConnection:
        if statement == self._statement:
            self._started.set()
        return self._con.execute(statement, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_an_interrupt_stops_a_long_query_and_removes_its_folder(
    cache: TableCache, table: Path
) -> None:
    interrupt = Interrupt()
    outcome: list[BaseException] = []
    sql = "SELECT count(*) FROM range(100000000000) a, cases"
    running = threading.Event()

    def run() -> None:
        try:
            with cache.reading("query", interrupt) as con:
                query(
                    cast(duckdb.DuckDBPyConnection, _Announcing(con, sql, running)),
                    {"cases": table},
                    sql,
                    max_rows=10,
                    max_bytes=MIB,
                    timeout=600,
                    interrupt=interrupt,
                )
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    # Past the checks of the SQL: the long statement itself is what the interrupt stops.
    assert running.wait(20), "the query never started"
    eventually(lambda: len(cache.running("query")) == 1, timeout=20, interval=0.02)
    folder = cache.running("query")[0]
    interrupt.fire("was stopped: the client went away")
    thread.join(timeout=20)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], TableError)
    assert str(outcome[0]) == "sql: the query was stopped: the client went away"
    assert not folder.exists() and cache.running() == []


def test_an_interrupt_fired_before_the_query_starts_still_stops_it(
    cache: TableCache, table: Path
) -> None:
    interrupt = Interrupt()
    interrupt.fire("was stopped: the client went away")
    with cache.reading("query", interrupt) as con, pytest.raises(TableError) as stopped:
        query(
            con,
            {"cases": table},
            "SELECT count(*) FROM range(100000000000) a, cases",
            max_rows=10,
            max_bytes=MIB,
            timeout=600,
            interrupt=interrupt,
        )
    assert "client went away" in str(stopped.value)


def test_an_interrupt_during_the_checks_is_a_clear_error(cache: TableCache, table: Path) -> None:
    """The checks before the query run DuckDB too (a long query to parse and serialise): the
    client going away meanwhile stops them with the same error, not DuckDB's own."""
    interrupt = Interrupt()
    interrupt.fire("was stopped: the client went away")
    long_sql = f"SELECT id FROM cases WHERE id IN ({', '.join(map(str, range(50_000)))})"
    with cache.reading("query", interrupt) as con, pytest.raises(TableError) as stopped:
        query(
            con,
            {"cases": table},
            long_sql,
            max_rows=10,
            max_bytes=MIB,
            timeout=600,
            interrupt=interrupt,
        )
    assert str(stopped.value) == "sql: the query was stopped: the client went away"


def test_answers_are_cut_at_the_size_limit_in_bounded_memory(
    cache: TableCache, table: Path
) -> None:
    """5 GB of matching text: the answer holds at most the limit, and Python never held
    much more than that (the whole result is never fetched)."""
    interrupt = Interrupt()
    with cache.reading("query", interrupt) as con:
        tracemalloc.start()
        try:
            answer = query(
                con,
                {"cases": table},
                "SELECT i, repeat('x', 1000) AS text FROM range(5000000) t(i)",
                max_rows=10_000_000,
                max_bytes=4 * MIB,
                timeout=60,
                interrupt=interrupt,
            )
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert answer["truncated"] is True and answer["truncated_by"] == "bytes"
    size = json_size({"columns": answer["columns"], "rows": answer["rows"]})
    assert 3.9 * MIB < size <= 4 * MIB, size
    assert [row[0] for row in answer["rows"]] == list(range(len(answer["rows"])))
    assert peak < 40 * MIB, peak


def test_row_and_size_limits_say_which_cut(cache: TableCache, table: Path) -> None:
    def run(sql: str, *, max_rows: int, max_bytes: int) -> dict[str, Any]:
        interrupt = Interrupt()
        with cache.reading("query", interrupt) as con:
            return query(
                con,
                {"cases": table},
                sql,
                max_rows=max_rows,
                max_bytes=max_bytes,
                timeout=30,
                interrupt=interrupt,
            )

    rows = run("SELECT * FROM range(10)", max_rows=3, max_bytes=MIB)
    assert rows["rows"] == [[0], [1], [2]] and rows["truncated_by"] == "rows"
    exact = run("SELECT * FROM range(3)", max_rows=3, max_bytes=MIB)
    assert exact["rows"] == [[0], [1], [2]] and exact["truncated_by"] is None
    wide = run("SELECT id, note FROM cases ORDER BY id", max_rows=1000, max_bytes=20_000)
    assert wide["truncated_by"] == "bytes" and 0 < len(wide["rows"]) < 10
    nothing = run("SELECT repeat('x', 50000) AS s", max_rows=10, max_bytes=10_000)
    assert nothing["rows"] == [] and nothing["truncated_by"] == "bytes"


def test_preview_pages_are_cut_at_the_size_limit(cache: TableCache, table: Path) -> None:
    with cache.reading("preview") as con:
        page = preview(con, table, limit=500, max_bytes=50_000)
        whole = preview(con, table, limit=5, max_bytes=50_000)
        one = preview(con, table, limit=5, max_bytes=100)
    assert page["truncated"] is True and 0 < len(page["rows"]) < 30
    assert json_size({"columns": page["columns"], "rows": page["rows"]}) <= 50_000
    assert page["total"] == 2000
    assert whole["truncated"] is False and len(whole["rows"]) == 5
    # A row wider than the limit still comes alone, so paging always moves on.
    assert one["truncated"] is True and len(one["rows"]) == 1


def leftovers(root: Path) -> tuple[Path, Path, Path]:
    """What a crashed server leaves: a day-old folder, a day-old loose file (the old shared
    folder held them), and a folder of a reading that has just started."""
    root.mkdir(parents=True, exist_ok=True)
    old, fresh = root / "crashed", root / "running"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "duckdb_temp_storage-0.tmp").write_bytes(b"rows")
    loose = root / "duckdb_temp_storage_DEFAULT-0.tmp"
    loose.write_bytes(b"rows")
    two_days_ago = time.time() - 2 * 24 * 3600
    for path in (old, loose):
        os.utime(path, (two_days_ago, two_days_ago))
    return old, loose, fresh


def test_day_old_spill_folders_are_swept(cache: TableCache) -> None:
    old, loose, fresh = leftovers(cache.spill_root)
    with cache.reading("profile") as con:
        mine = temp_directory(con)
        os.utime(mine, (time.time() - 3 * 24 * 3600,) * 2)  # in use, however old
        assert cache.sweep() == 2
        assert mine.is_dir()
    assert not old.exists() and not loose.exists()
    assert fresh.exists()
    assert spill.sweep(cache.spill_root) == 0


def test_a_starting_server_sweeps_what_a_crash_left(platform: Platform) -> None:
    root = platform.tables.spill_root
    old, loose, fresh = leftovers(root)
    try:
        Profiler(platform, workers=0).start()  # as every server does when it starts
        assert not old.exists() and not loose.exists()
        assert fresh.exists()
    finally:
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(fresh, ignore_errors=True)
        loose.unlink(missing_ok=True)


def test_conversions_spill_privately_too(cache: TableCache, tmp_path: Path) -> None:
    """A CSV converted to Parquet goes through a reading of its own, gone afterwards."""
    content = b"district,cases\nBo,1\nKenema,2\n"
    local = tmp_path / "cases.csv"
    local.write_bytes(content)
    sha256 = hashlib.sha256(content).hexdigest()
    cache.blobs.adopt(local, sha256)
    path = cache.parquet(sha256, "csv")
    found = duckdb.connect().execute(f"SELECT sum(cases) FROM read_parquet({literal(str(path))})")
    assert found.fetchone() == (3,)
    assert cache.running() == [] and list(cache.spill_root.iterdir()) == []
