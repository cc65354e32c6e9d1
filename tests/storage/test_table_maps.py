"""A table as a map layer: shapes in GeoJSON, WKT or WKB, values summed per shape and
period, columns guessed from their names or their content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import shapely

from joliba.storage.table_maps import layer
from joliba.storage.tables import TableError

SQUARES = {
    "Dosso": "POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))",
    "Tahoua": "POLYGON((1 0, 2 0, 2 1, 1 1, 1 0))",
}


def _table(tmp_path: Path, encoding: str) -> Path:
    shapes = {name: shapely.from_wkt(wkt) for name, wkt in SQUARES.items()}

    def as_text(shape: Any) -> str | bytes:
        if encoding == "geojson":
            return json.dumps(shapely.geometry.mapping(shape))
        return shapely.to_wkb(shape) if encoding == "wkb" else str(shape.wkt)

    rows = [
        (name, period, element, cases)
        for name in SQUARES
        for period, element, cases in (
            ("202401", "malaria", 10),
            ("202401", "fever", 5),
            ("202402", "malaria", 7),
        )
    ]
    frame = pl.DataFrame(
        {
            "district": [r[0] for r in rows],
            "period": [r[1] for r in rows],
            "element": [r[2] for r in rows],
            "cases": [r[3] + (100 if r[0] == "Tahoua" else 0) for r in rows],
            "shape": [as_text(shapes[r[0]]) for r in rows],
        }
    )
    path = tmp_path / f"{encoding}.parquet"
    frame.write_parquet(path)
    return path


@pytest.mark.parametrize("encoding", ["geojson", "wkt", "wkb"])
def test_values_are_summed_per_shape_and_period(tmp_path: Path, encoding: str) -> None:
    path = _table(tmp_path, encoding)
    with duckdb.connect() as con:
        found = layer(con, path, label="district")
    assert found["columns"] == {
        "geometry": "shape",
        "value": "cases",
        "period": "period",
        "label": "district",
    }
    assert found["periods"] == ["202401", "202402"]
    by_label = {f["properties"]["label"]: f for f in found["features"]}
    assert by_label["Dosso"]["properties"]["values"] == {"202401": 15, "202402": 7}
    assert by_label["Tahoua"]["properties"]["values"] == {"202401": 215, "202402": 107}
    assert by_label["Dosso"]["geometry"]["type"] == "Polygon"
    assert shapely.geometry.shape(by_label["Tahoua"]["geometry"]).equals(
        shapely.from_wkt(SQUARES["Tahoua"])
    )
    assert found["range"] == [7, 215]


def test_bad_choices_are_refused_by_name(tmp_path: Path) -> None:
    path = _table(tmp_path, "wkt")
    with duckdb.connect() as con:
        with pytest.raises(TableError, match="value: 'district' holds varchar, not numbers"):
            layer(con, path, value="district")
        with pytest.raises(TableError, match="there is no column 'nope'"):
            layer(con, path, period="nope")
        with pytest.raises(TableError, match="is not GeoJSON, WKT or WKB"):
            layer(con, path, geometry="element")
    plain = tmp_path / "plain.parquet"
    pl.DataFrame({"district": ["A"], "cases": [1]}).write_parquet(plain)
    with duckdb.connect() as con, pytest.raises(TableError, match="no column of shapes"):
        layer(con, plain)


def test_a_table_without_shapes_is_drawn_with_a_boundaries_table(tmp_path: Path) -> None:
    values = tmp_path / "values.parquet"
    pl.DataFrame(
        {"org_unit": ["d1", "d2", "d1", "d9"], "period": ["202401"] * 4, "value": [1, 2, 3, 9]}
    ).write_parquet(values)
    shapes = tmp_path / "org_units.parquet"
    pl.DataFrame(
        {"id": ["d1", "d2"], "name": ["Dosso", "Tahoua"], "geometry": list(SQUARES.values())}
    ).write_parquet(shapes)
    with duckdb.connect() as con:
        found = layer(con, values, boundaries=shapes, key="org_unit", boundaries_key="id")
        assert found["columns"]["geometry"] == "geometry" and found["columns"]["label"] == "name"
        by_label = {f["properties"]["label"]: f["properties"]["values"] for f in found["features"]}
        assert by_label == {"Dosso": {"202401": 4}, "Tahoua": {"202401": 2}}  # d9: no shape
        with pytest.raises(TableError, match="key: name the column"):
            layer(con, values, boundaries=shapes)
        with pytest.raises(TableError, match="no column 'code' in the boundaries"):
            layer(con, values, boundaries=shapes, key="org_unit", boundaries_key="code")
