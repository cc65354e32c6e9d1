"""Run the pipeline locally against a DHIS2 emulator, as `python pipeline.py` would, and
compare the map it wrote with what the DHIS2 client reads directly."""

import importlib.util
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
import shapely

from joliba.dhis2.client import DHIS2
from joliba.dhis2.emulator import running

FOLDER = Path(__file__).resolve().parents[1]
OUTPUT = "files/dhis2/__CODE__/health_map.parquet"
MONTHS = ["202401", "202402", "202403"]


@pytest.fixture(scope="module")
def dhis2():
    with (
        running(seed=7, scale=0.1) as url,
        DHIS2(url, username="admin", password="district") as client,
    ):
        yield client


def run(config, tmp_path, url):
    (tmp_path / "workspace.yaml").write_text(
        f"slug: test\nfiles_path: {tmp_path / 'files'}\n"
        f"database_url: sqlite:///{tmp_path / 'local.db'}\nconnections:\n  dhis2:\n"
        f"    type: dhis2\n    url: {url}\n    username: admin\n    password: district\n"
    )
    config = {"source": "dhis2", "dataset": "", **config}
    return subprocess.run(
        [sys.executable, str(FOLDER / "pipeline.py"), "-c", json.dumps(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )


def summed_element(dhis2):
    elements = dhis2.data_elements()
    return elements.filter(pl.col("aggregation_type") == "SUM")["id"][0]


def test_a_map_of_the_districts_by_month(dhis2, tmp_path):
    element = summed_element(dhis2)
    indicator = dhis2.indicators()["id"][0]
    levels = dhis2.organisation_unit_levels()
    district_level = levels.filter(pl.col("level") == 3)["id"][0]  # as the picker gives it
    config = {
        "level": district_level,
        "data_elements": [element],
        "indicators": [indicator],
        "first_period": MONTHS[0],
        "last_period": MONTHS[-1],
    }
    result = run(config, tmp_path, dhis2.url)
    assert result.returncode == 0, result.stderr
    assert "72 org units at level 3, 3 months (202401 to 202403)" in result.stderr

    path = tmp_path / OUTPUT
    written = pl.read_parquet(path)
    assert written.columns == [
        "org_unit",
        "name",
        "period",
        "data_element",
        "data_element_name",
        "value",
        "geometry",
        "geojson",
    ]
    districts = dhis2.organisation_units(level=3)
    assert districts.height == 72
    assert set(written["org_unit"]) == set(districts["id"])
    assert set(written["period"]) == set(MONTHS)
    assert set(written["data_element"]) == {element, indicator}
    assert written.height == 72 * len(MONTHS) * 2
    key = ["org_unit", "period", "data_element"]
    assert written.select(key).is_duplicated().sum() == 0
    assert written["value"].null_count() < written.height

    # Each district's shape, as WKB and as DHIS2's GeoJSON, islands and all.
    geo = json.loads(pq.read_schema(path).metadata[b"geo"])
    assert geo["version"] == "1.1.0" and geo["primary_column"] == "geometry"
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    assert geo["columns"]["geometry"]["geometry_types"] == ["MultiPolygon", "Polygon"]
    shapes = shapely.from_wkb(written["geometry"].to_list())
    assert all(shapes)
    assert all(shapely.equals(shapes, shapely.from_geojson(written["geojson"].to_list())))
    kinds = {shape.geom_type for shape in shapes}
    assert kinds == {"Polygon", "MultiPolygon"}
    given = dict(zip(districts["id"], districts["geometry"]))
    for unit, text in written.select("org_unit", "geojson").unique().iter_rows():
        assert text == given[unit]

    # The values are DHIS2 analytics' own for that district and month.
    island = written.filter(pl.col("geojson").str.contains("MultiPolygon"))["org_unit"][0]
    direct = dhis2.analytics([element, indicator], ["202402"], [island])
    for item, value in direct.select("dx", "value").iter_rows():
        row = written.filter(
            (pl.col("org_unit") == island)
            & (pl.col("period") == "202402")
            & (pl.col("data_element") == item)
        )
        assert row["value"].to_list() == [pytest.approx(value)]

    # The same rows in the workspace database, the shape as WKB.
    with sqlite3.connect(tmp_path / "local.db") as con:
        count, units, blob = con.execute(
            "SELECT count(*), count(DISTINCT org_unit), max(geometry) FROM health_map"
        ).fetchone()
    assert (count, units) == (written.height, 72)
    assert shapely.from_wkb(blob).geom_type in kinds


def test_org_units_without_a_readable_shape_are_kept(dhis2):
    spec = importlib.util.spec_from_file_location("health_map", FOLDER / "pipeline.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    units = pl.DataFrame(
        {
            "id": ["a", "b", "c"],
            "name": ["A", "B", "C"],
            "geometry": ['{"type": "Point", "coordinates": [1, 2]}', None, "not GeoJSON"],
        }
    )
    shapes, geo = module.shapes_of(units)
    assert shapes["org_unit"].to_list() == ["a", "b", "c"]
    assert shapes["geometry"].is_null().to_list() == [False, True, True]
    assert shapes["geojson"].is_null().to_list() == [False, True, True]
    assert geo["columns"]["geometry"] == {
        "encoding": "WKB",
        "geometry_types": ["Point"],
        "bbox": [1.0, 2.0, 1.0, 2.0],
    }


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "choose data elements, indicators or both"),
        ({"level": "9", "indicators": ["{indicator}"]}, "no org units at level 9"),
        ({"indicators": ["nothingHere"]}, "not data elements or indicators of this DHIS2"),
        (
            {"indicators": ["{indicator}"], "first_period": "202403", "last_period": "202401"},
            "first period 202403 is after last period 202401",
        ),
    ],
)
def test_what_cannot_make_a_map_is_refused(dhis2, tmp_path, config, message):
    indicator = dhis2.indicators()["id"][0]
    config = {"first_period": "202401", "last_period": "202401", **config}
    config = json.loads(json.dumps(config).replace("{indicator}", indicator))
    result = run(config, tmp_path, dhis2.url)
    assert result.returncode != 0
    assert message in result.stderr
