"""The DHIS2 template pipelines as a new user meets them: `joliba pipelines init --template`,
the template's own tests, then push and run on a real server against the DHIS2 emulator."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import polars as pl
import pytest

from joliba.dhis2.client import DHIS2
from joliba.templates import TEMPLATES
from tests.conftest import World
from tests.dhis2.emulator_support import live_emulator
from tests.fixtures.cli import Joliba, against
from tests.fixtures.connections import connect_dhis2


def test_templates_are_listed_and_an_unknown_one_is_refused(tmp_path: Path) -> None:
    joliba = against(None, None, tmp_path)
    listed = joliba("pipelines", "templates", "--json").ok()
    assert [t["template"] for t in json.loads(listed.stdout)] == list(TEMPLATES)
    refused = joliba("pipelines", "init", "x", "--template", "dhis3")
    assert refused.exit_code == 2 and "dhis2-extract" in refused.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    "template", ["dhis2-extract", "dhis2-metadata", "dhis2-push", "dhis2-health-map"]
)
def test_a_new_template_folder_passes_its_own_tests(template: str, tmp_path: Path) -> None:
    against(None, None, tmp_path)("pipelines", "init", "mine", "--template", template).ok()
    folder = tmp_path / "mine"
    text = (folder / "pipeline.py").read_text()
    assert not [m for m in ("__NAME__", "__CODE__", "__FUNCTION__") if m in text]
    own = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert own.returncode == 0, own.stdout + own.stderr


def _run(joliba: Joliba, ws: str, code: str, params: Mapping[str, object]) -> str:
    args = [f"{k}={json.dumps(v) if isinstance(v, list) else v}" for k, v in params.items()]
    result = joliba(
        "pipelines",
        "run",
        code,
        "-w",
        ws,
        *[a for pair in (("--param", a) for a in args) for a in pair],
        "--wait",
    )
    if result.exit_code == 0:
        return ""
    run_id = result.stderr.split()[1]  # "run ID failed …": show its log
    logs = joliba("runs", "logs", run_id, "-w", ws)
    return result.stderr + logs.stdout + logs.stderr


def test_extract_metadata_and_push_run_on_the_platform(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    joliba = against(world.server.url, admin.token, tmp_path)
    api = world.client(admin.token)
    with live_emulator(scale=0.1) as emulator:
        url = str(emulator.base_url).rstrip("/")
        connect_dhis2(api, ws, url)
        with DHIS2(url, username="admin", password="district") as dhis2:
            sets = dhis2.datasets(fields="id,periodType")
            data_set = sets.filter(pl.col("periodType") == "Monthly")["id"][0]

            for template in ("dhis2-extract", "dhis2-metadata", "dhis2-push"):
                joliba("pipelines", "init", template, "-t", template).ok()
                joliba("pipelines", "push", template, "-w", ws).ok()

            failure = _run(
                joliba,
                ws,
                "dhis2-extract",
                {
                    "source": "hmis",
                    "datasets": [data_set],
                    "level": "3",
                    "first_period": "202401",
                    "last_period": "202402",
                    "table": "monthly_values",
                },
            )
            assert not failure, failure
            version = api.get(f"/workspaces/{ws}/datasets/dhis2-data-values/versions/latest")
            assert version.status_code == 200, version.text
            assert [f["name"] for f in version.json()["files"]] == ["data_values.parquet"]
            number = version.json()["number"]
            raw = api.get(
                f"/workspaces/{ws}/datasets/dhis2-data-values/versions/{number}"
                "/files/data_values.parquet"
            )
            extracted = pl.read_parquet(io.BytesIO(raw.content))
            root = dhis2.organisation_units(level=1)["id"].to_list()
            direct = dhis2.data_value_sets(
                datasets=[data_set], org_units=root, children=True, periods=["202401", "202402"]
            )
            assert extracted.height == direct.height > 0

            failure = _run(joliba, ws, "dhis2-metadata", {"source": "hmis"})
            assert not failure, failure
            files = api.get(f"/workspaces/{ws}/datasets/dhis2-metadata/versions/latest").json()
            assert "organisation_units.parquet" in [f["name"] for f in files["files"]]

            # The extract pushed back as it is: DHIS2 finds nothing to change or refuse.
            params = {"target": "hmis", "source": "dhis2-data-values", "dry_run": "false"}
            failure = _run(joliba, ws, "dhis2-push", params)
            assert not failure, failure
            again = dhis2.data_value_sets(
                datasets=[data_set], org_units=root, children=True, periods=["202401", "202402"]
            )
            values = direct.columns[:6]  # the keys and the value; DHIS2 may touch lastUpdated
            assert values[-1] == "value"
            assert again.select(values).sort(values).equals(direct.select(values).sort(values))
