"""write_table on a real SQLite file and a real PostgreSQL database: types, replace, append,
fail, and a failed write that leaves the old table whole."""

from __future__ import annotations

import json
import sqlite3
import struct
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
import pytest

from joliba.sdk.tables import TableError, write_table
from tests.conftest import CI, temporary_postgres_database

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


def test_upsert_updates_the_rows_of_known_keys_and_adds_the_others(database: str) -> None:
    first = pl.DataFrame({"district": ["Dosso", "Tahoua"], "month": [1, 1], "cases": [12, 7]})
    write_table(first, "monthly", database, key=["district", "month"])
    change = pl.DataFrame({"district": ["Tahoua", "Zinder"], "month": [1, 1], "cases": [9, 4]})
    assert (
        write_table(change, "monthly", database, if_exists="upsert", key=["district", "month"]) == 2
    )
    rows = _read(database, "SELECT district, month, cases FROM monthly ORDER BY district")
    assert rows == [("Dosso", 1, 12), ("Tahoua", 1, 9), ("Zinder", 1, 4)]
    # Upserting into a table that does not exist yet makes it, keyed.
    assert write_table(change, "fresh", database, if_exists="upsert", key="district") == 2
    write_table(
        change.with_columns(cases=pl.lit(0)), "fresh", database, if_exists="upsert", key="district"
    )
    assert _read(database, "SELECT sum(cases) FROM fresh") == [(0,)]


def test_keys_that_cannot_work_are_refused_by_name(database: str) -> None:
    frame = pl.DataFrame({"district": ["Dosso", "Dosso"], "cases": [1, 2]})
    with pytest.raises(TableError, match="needs key="):
        write_table(frame, "t", database, if_exists="upsert")
    with pytest.raises(TableError, match=r"key column\(s\) region not in the data"):
        write_table(frame, "t", database, key="region")
    with pytest.raises(TableError, match="'t'"):  # the same key twice
        write_table(frame, "t", database, key="district")
    write_table(frame, "unkeyed", database)
    with pytest.raises(TableError, match="no unique key on \\(district\\)"):
        write_table(frame.head(1), "unkeyed", database, if_exists="upsert", key="district")
    assert _read(database, "SELECT count(*) FROM unkeyed") == [(2,)]


def test_pandas_arrow_and_parquet_files_give_the_same_table(database: str, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = pl.DataFrame({"district": [f"D{i}" for i in range(2500)], "cases": list(range(2500))})
    path = tmp_path / "cases.parquet"
    pq.write_table(frame.to_arrow(), path, row_group_size=1000)  # three row groups, streamed
    table = frame.to_arrow()
    sources: dict[str, Any] = {
        "polars": frame,
        "lazy": frame.lazy(),
        "pandas": frame.to_pandas(),
        "arrow": table,
        "reader": pa.RecordBatchReader.from_batches(table.schema, table.to_batches(700)),
        "parquet": path,
        "parquet-text": str(path),
    }
    for name, source in sources.items():
        assert write_table(source, f"from_{name.replace('-', '_')}", database) == 2500, name
        got = _read(
            database,
            f"SELECT count(*), sum(cases), max(district) FROM from_{name.replace('-', '_')}",
        )
        assert got == [(2500, sum(range(2500)), "D999")], name
    with pytest.raises(TableError, match="not a Parquet file"):
        (tmp_path / "bad.parquet").write_text("district,cases\n")
        write_table(tmp_path / "bad.parquet", "bad", database)
    with pytest.raises(TableError, match="not dict"):
        write_table({"a": [1]}, "bad", database)


def _wkb_square(west: float, south: float, size: float) -> bytes:
    ring = [(west, south), (west + size, south), (west + size, south + size), (west, south + size)]
    ring.append(ring[0])
    points = b"".join(struct.pack("<dd", x, y) for x, y in ring)
    return struct.pack("<BIII", 1, 3, 1, len(ring)) + points


@pytest.fixture
def postgis_database() -> Iterator[str]:
    with temporary_postgres_database("joliba_postgis") as url, psycopg.connect(url) as con:
        try:
            con.execute("CREATE EXTENSION postgis")
            con.commit()
        except psycopg.errors.FeatureNotSupported:
            message = "PostGIS is not installed (Debian: postgresql-15-postgis-3)"
            if CI:
                pytest.fail(message + " (CI=true: it must be)")
            pytest.skip(message)
        yield url


def test_geometry_becomes_postgis_geometry_from_geoparquet_wkt_and_geojson(
    postgis_database: str, tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {"district": ["A", "B"], "geometry": [_wkb_square(0, 0, 1), _wkb_square(2, 0, 2)]}
    )
    geo = {
        "version": "1.1.0",
        "primary_column": "geometry",
        "columns": {"geometry": {"encoding": "WKB"}},
    }
    path = tmp_path / "districts.parquet"
    pq.write_table(table.replace_schema_metadata({"geo": json.dumps(geo)}), path)
    assert write_table(path, "districts", postgis_database) == 2
    rows = _read(
        postgis_database,
        "SELECT district, ST_Area(geometry), ST_SRID(geometry), GeometryType(geometry) "
        "FROM districts ORDER BY district",
    )
    assert rows == [("A", 1.0, 4326, "POLYGON"), ("B", 4.0, 4326, "POLYGON")]
    column = _read(
        postgis_database,
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = 'districts'::regclass AND attname = 'geometry'",
    )
    assert column == [("geometry(Geometry,4326)",)]

    points = pl.DataFrame(
        {
            "facility": ["CSI Bo", "CSI Ko", "none"],
            "wkt": ["POINT(2.5 1)", "POINT(8 14)", None],
            "geojson": ['{"type": "Point", "coordinates": [2.5, 1]}', None, None],
        }
    )
    write_table(points, "facilities", postgis_database, geometry=["wkt", "geojson"])
    inside = _read(
        postgis_database,
        "SELECT f.facility, d.district FROM facilities f "
        "LEFT JOIN districts d ON ST_Contains(d.geometry, f.wkt) ORDER BY f.facility",
    )
    assert inside == [("CSI Bo", "B"), ("CSI Ko", None), ("none", None)]
    same = _read(
        postgis_database, "SELECT ST_Equals(wkt, geojson) FROM facilities WHERE facility = 'CSI Bo'"
    )
    assert same == [(True,)]
    # Appending and upserting convert the same way.
    more = pl.DataFrame({"facility": ["CSI Zi"], "wkt": ["POINT(3 1)"], "geojson": [None]})
    write_table(
        more, "facilities", postgis_database, if_exists="append", geometry=["wkt", "geojson"]
    )
    assert _read(
        postgis_database, "SELECT ST_X(wkt) FROM facilities WHERE facility = 'CSI Zi'"
    ) == [(3.0,)]
    with pytest.raises(TableError, match="geometry column 'cases' holds Int64"):
        write_table(pl.DataFrame({"cases": [1]}), "bad", postgis_database, geometry="cases")


def test_without_postgis_geometry_stays_as_given(database: str) -> None:
    frame = pl.DataFrame({"district": ["A"], "geometry": [_wkb_square(0, 0, 1)]})
    write_table(frame, "shapes", database, geometry="geometry")
    stored = _read(database, "SELECT geometry FROM shapes")[0][0]
    assert bytes(stored) == _wkb_square(0, 0, 1)
