"""Org units from real recorded DHIS2 2.39 answers and from the emulator written as
GeoParquet, read back by DuckDB and pyarrow: the geo metadata, the geometry types (points,
polygons and the multipolygons of districts with islands) and the coordinates survive."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from joliba.dhis2.client import DHIS2
from joliba.dhis2.geo import write_geoparquet
from tests.dhis2.emulator_support import live_emulator
from tests.dhis2.replay import recorded, replay


def test_org_units_written_as_geoparquet_keep_their_geometry(tmp_path: Path) -> None:
    recordings = recorded("2.39", "dhis2_init", "organisation_units")
    with replay(recordings) as server, DHIS2(server.url, username="a", password="b") as dhis2:
        units = dhis2.organisation_units()
    path = write_geoparquet(units, tmp_path / "units.parquet")

    geo = json.loads(pq.read_schema(path).metadata[b"geo"])
    column = geo["columns"]["geometry"]
    assert geo["primary_column"] == "geometry" and column["encoding"] == "WKB"
    assert sorted(column["geometry_types"]) == ["MultiPolygon", "Point", "Polygon"]
    west, south, east, north = column["bbox"]
    assert -14 < west < east < -10 and 6 < south < north < 10.1  # Sierra Leone

    query = f"SELECT id, ST_AsGeoJSON(geometry) AS g FROM '{path}' ORDER BY id"
    back = cast(duckdb.DuckDBPyRelation, duckdb.sql(query)).pl()  # a SELECT: a relation
    assert back.height == units.height
    original = units.select("id", "geometry").sort("id")
    for ours, theirs in zip(original.iter_rows(), back.iter_rows(), strict=True):
        assert ours[0] == theirs[0]
        if ours[1] is None:
            assert theirs[1] is None
        else:
            assert json.loads(theirs[1])["coordinates"] == json.loads(ours[1])["coordinates"]
    assert not list(tmp_path.glob("*.partial"))


def test_the_emulators_island_districts_are_written_and_read_back(tmp_path: Path) -> None:
    with (
        live_emulator(seed=1, scale=0.1) as emulator,
        DHIS2(str(emulator.base_url), username="admin", password="district") as dhis2,
    ):
        districts = dhis2.organisation_units(level=3)
    path = write_geoparquet(districts, tmp_path / "districts.parquet")
    geo = json.loads(pq.read_schema(path).metadata[b"geo"])
    assert sorted(geo["columns"]["geometry"]["geometry_types"]) == ["MultiPolygon", "Polygon"]
    query = f"SELECT id, ST_AsGeoJSON(geometry) AS g FROM '{path}'"
    back = cast(duckdb.DuckDBPyRelation, duckdb.sql(query)).pl()  # a SELECT: a relation
    shapes = {identifier: json.loads(text) for identifier, text in back.iter_rows()}
    parts = [len(s["coordinates"]) for s in shapes.values() if s["type"] == "MultiPolygon"]
    assert len(parts) == 16 and sorted(set(parts)) == [2, 3]  # one island, or two
    sent = dict(districts.select("id", "geometry").iter_rows())
    assert shapes.keys() == sent.keys()
    for identifier, shape in shapes.items():
        assert shape == json.loads(sent[identifier])


def test_text_that_is_not_geojson_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {"id": ["a", "b"], "geometry": ['{"type":"Point","coordinates":[1,2]}', "x"]}
    )
    with pytest.raises(ValueError, match="not GeoJSON"):
        write_geoparquet(frame, tmp_path / "bad.parquet")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no column 'shape'"):
        write_geoparquet(frame, tmp_path / "bad.parquet", geometry="shape")
