"""Run the pipeline locally against a DHIS2 emulator, as `python pipeline.py` would, and
compare what it wrote with what the DHIS2 client reads directly."""

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from joliba.dhis2.client import DHIS2
from joliba.dhis2.emulator import running

FOLDER = Path(__file__).resolve().parents[1]
OUTPUT = "files/dhis2/__CODE__/data_values.parquet"


@pytest.fixture(scope="module")
def dhis2():
    with running(seed=7, scale=0.1) as url:
        yield DHIS2(url, username="admin", password="district")


def run(config, tmp_path, url):
    (tmp_path / "workspace.yaml").write_text(
        f"slug: test\nfiles_path: {tmp_path / 'files'}\nconnections:\n  dhis2:\n"
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


def monthly_data_set(dhis2):
    sets = dhis2.datasets(fields="id,name,periodType")
    return sets.filter(pl.col("periodType") == "Monthly")["id"][0]


def test_values_at_a_level_with_names_and_ancestors(dhis2, tmp_path):
    data_set = monthly_data_set(dhis2)
    config = {
        "datasets": [data_set],
        "level": "3",
        "first_period": "202401",
        "last_period": "202403",
    }
    result = run(config, tmp_path, dhis2.url)
    assert result.returncode == 0, result.stderr
    written = pl.read_parquet(tmp_path / OUTPUT)
    root = dhis2.organisation_units(level=1)["id"].to_list()
    direct = dhis2.data_value_sets(
        datasets=[data_set],
        org_units=root,
        children=True,
        start_date=date(2024, 1, 1),
        end_date=date(2024, 3, 31),
    )
    assert written.height == direct.height > 0
    assert set(written["period"]) == {"202401", "202402", "202403"}
    for column in ("data_element_name", "org_unit_name", "level_1_name", "level_3_id"):
        assert written[column].null_count() == 0, column
    key = ["data_element", "period", "org_unit", "category_option_combo"]
    assert written.select(key).is_duplicated().sum() == 0


def test_values_summed_to_the_level(dhis2, tmp_path):
    data_set = monthly_data_set(dhis2)
    config = {
        "datasets": [data_set],
        "level": "2",
        "first_period": "202401",
        "last_period": "202401",
        "aggregate": True,
    }
    result = run(config, tmp_path, dhis2.url)
    assert result.returncode == 0, result.stderr
    summed = pl.read_parquet(tmp_path / OUTPUT)
    regions = dhis2.organisation_units(level=2)
    assert set(summed["level_2_id"]) <= set(regions["id"])
    direct = dhis2.data_value_sets(
        datasets=[data_set], org_units=regions["id"].to_list(), children=True, periods=["202401"]
    )
    total = direct["value_number" if "value_number" in direct.columns else "value"].sum()
    assert summed["value"].sum() == pytest.approx(float(total))


def test_a_selection_without_data_is_refused(dhis2, tmp_path):
    result = run(
        {"level": "2", "first_period": "202401", "last_period": "202312"}, tmp_path, dhis2.url
    )
    assert result.returncode != 0
    assert "choose data elements, data sets or both" in result.stderr
