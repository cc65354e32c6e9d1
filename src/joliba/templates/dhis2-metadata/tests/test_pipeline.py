"""Run the pipeline locally against a DHIS2 emulator, as `python pipeline.py` would."""

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from joliba.dhis2.client import DHIS2
from joliba.dhis2.emulator import running

FOLDER = Path(__file__).resolve().parents[1]


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


def test_metadata_files_with_geoparquet_org_units(dhis2, tmp_path):
    result = run({}, tmp_path, dhis2.url)
    assert result.returncode == 0, result.stderr
    folder = tmp_path / "files" / "dhis2" / "__CODE__"
    units = folder / "organisation_units.parquet"
    geo = json.loads(pq.read_schema(units).metadata[b"geo"])
    assert geo["columns"]["geometry"]["encoding"] == "WKB"
    written = pl.read_parquet(units)
    assert written.height == dhis2.organisation_units().height
    facilities = written.filter(pl.col("level") == written["level"].max())
    assert facilities["level_2_name"].null_count() == 0
    elements = pl.read_parquet(folder / "data_elements.parquet")
    assert elements.height == dhis2.data_elements().height


def test_org_units_down_to_a_level(dhis2, tmp_path):
    result = run({"max_level": "2"}, tmp_path, dhis2.url)
    assert result.returncode == 0, result.stderr
    units = pl.read_parquet(tmp_path / "files/dhis2/__CODE__/organisation_units.parquet")
    assert sorted(units["level"].unique()) == [1, 2]
