"""Push a local file into a DHIS2 emulator, as `python pipeline.py` would: mapped codes,
an unmapped row, an invalid value, the dry run, then the import, read back from DHIS2."""

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from joliba.dhis2.client import DHIS2
from joliba.dhis2.emulator import running

FOLDER = Path(__file__).resolve().parents[1]


@pytest.fixture
def dhis2():
    with running(seed=7, scale=0.1) as url:
        yield DHIS2(url, username="admin", password="district")


def run(config, tmp_path, url):
    (tmp_path / "workspace.yaml").write_text(
        f"slug: test\nfiles_path: {tmp_path / 'files'}\nconnections:\n  dhis2:\n"
        f"    type: dhis2\n    url: {url}\n    username: admin\n    password: district\n"
    )
    config = {"target": "dhis2", **config}
    return subprocess.run(
        [sys.executable, str(FOLDER / "pipeline.py"), "-c", json.dumps(config)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )


def prepare(dhis2, tmp_path):
    """Four rows by code: two good, one invalid value, one district with no mapping."""
    elements = dhis2.data_elements(fields="id,code,valueType,categoryCombo[id]")
    number = elements.filter(pl.col("valueType") == "NUMBER").row(0, named=True)
    units = dhis2.organisation_units(level=4, fields="id,code").head(3)
    files = tmp_path / "files"
    files.mkdir()
    pl.DataFrame(
        {
            "indicator": [number["code"]] * 4,
            "month": ["202401", "202402", "202401", "202401"],
            "facility": [units["code"][0], units["code"][0], units["code"][1], "NOWHERE"],
            "cases": ["41", "42", "many", "7"],
        }
    ).write_csv(files / "cases.csv")
    mapping = [("data_element", number["code"], number["id"])]
    mapping += [("org_unit", code, id_) for id_, code in units.select("id", "code").iter_rows()]
    pl.DataFrame(mapping, schema=["kind", "source", "target"], orient="row").write_csv(
        files / "mapping.csv"
    )
    return number["id"], units["id"][0]


CONFIG = {
    "table_file": "cases.csv",
    "columns": "data_element=indicator,period=month,org_unit=facility,value=cases",
    "mapping": "mapping.csv",
}


def stored(dhis2, element, unit):
    values = dhis2.data_value_sets(
        data_elements=[element], org_units=[unit], periods=["202401", "202402"]
    )
    return sorted(values.select("period", pl.col("value").cast(pl.Float64)).iter_rows())


def test_dry_run_then_import(dhis2, tmp_path):
    element, unit = prepare(dhis2, tmp_path)
    before = stored(dhis2, element, unit)

    checked = run(CONFIG, tmp_path, dhis2.url)
    assert checked.returncode == 0, checked.stderr
    assert "dry run only" in checked.stderr
    assert stored(dhis2, element, unit) == before
    outputs = next((tmp_path / "files" / "dhis2" / "push").iterdir())
    conflicts = pl.read_csv(outputs / "conflicts-dry-run.csv", infer_schema=False)
    assert conflicts["value"].to_list() == ["many"]
    assert pl.read_csv(outputs / "unmapped.csv", infer_schema=False)["org_unit"].to_list() == [
        "NOWHERE"
    ]

    refused = run({**CONFIG, "dry_run": False}, tmp_path, dhis2.url)
    assert refused.returncode != 0 and "conflicts" in refused.stderr
    assert stored(dhis2, element, unit) == before

    pushed = run({**CONFIG, "dry_run": False, "push_with_conflicts": True}, tmp_path, dhis2.url)
    assert pushed.returncode == 0, pushed.stderr
    assert [v for _p, v in stored(dhis2, element, unit)] == [41.0, 42.0]
