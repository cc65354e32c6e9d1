"""`joliba demo --with-superset` as a new user runs it: Joliba, its DHIS2 emulator and
Superset, the health-map run, then a dashboard of it in Superset that the demo workspace
embeds and that its admin opens in Superset signed in once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from joliba.services import superset_demo
from tests.conftest import CI
from tests.e2e.test_demo import free_port, reachable, sign_in
from tests.fixtures.superset import VENV, installed
from tests.fixtures.waiting import eventually


def test_demo_with_superset_builds_the_health_map_dashboard(
    tmp_path: Path, fresh_database_url: str | None
) -> None:
    if not installed():
        (pytest.fail if CI else pytest.skip)(f"Superset is not installed in {VENV}")
    port, dhis2_port, superset_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    env["JOLIBA_SUPERSET_VENV"] = str(VENV)  # installed once for the whole suite
    if fresh_database_url:
        env["JOLIBA_DATABASE_URL"] = fresh_database_url
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "joliba.cli.main",
            "demo",
            f"--port={port}",
            f"--dhis2-port={dhis2_port}",
            "--with-superset",
            f"--superset-port={superset_port}",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(process.stdout or []), daemon=True)
    reader.start()
    base, superset = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{superset_port}"
    try:

        def dashboard_line() -> str | None:
            if process.poll() is not None:
                raise AssertionError("the demo exited:\n" + "".join(lines))
            return next((line for line in lines if line.startswith("  dashboard ")), None)

        printed = eventually(
            dashboard_line, timeout=240, interval=0.5, message=lambda: "".join(lines)
        )
        said = "".join(lines)
        assert f"  superset  {superset} (sign in through Joliba" in said
        path = printed.split()[1].removeprefix(base)
        assert re.fullmatch(r"/w/demo/dashboards/\d+", path), printed
        dashboard_id = int(path.rsplit("/", 1)[1])
        with httpx.Client(base_url=base, timeout=30) as browser:
            sign_in(browser, said)
            (listed,) = browser.get("/api/v1/workspaces/demo/dashboards").json()
            assert listed["id"] == dashboard_id and listed["title"] == "Health map"
            assert browser.get(path).status_code == 200
            # One sign-in: Joliba hands the admin to Superset, which shows the demo's
            # database and draws the map's 72 districts from it.
            handed = browser.get("/superset/signin", params={"next": "/sqllab/"})
            assert handed.status_code == 303
            target = urlsplit(handed.headers["location"])
        with httpx.Client(base_url=superset, timeout=60) as client:
            assert client.get(f"{target.path}?{target.query}").status_code == 302
            databases = client.get("/api/v1/database/").json()["result"]
            assert [d["database_name"] for d in databases] == ["demo"]
            charts = client.get(f"/api/v1/dashboard/{dashboard_id}/charts").json()["result"]
            shown = {c["slice_name"]: c for c in charts}
            map_chart = shown["District map, latest month"]
            csrf = client.get("/api/v1/security/csrf_token/").json()["result"]
            data = client.post(
                "/api/v1/sqllab/execute/",
                json={
                    "database_id": databases[0]["id"],
                    # The map's own query: one coloured district each, of the latest month.
                    "sql": "SELECT count(*) AS districts, count(DISTINCT period) AS months "
                    f"FROM ({superset_demo.features_sql('health_map', sqlite=True)}) AS map",
                },
                headers={"X-CSRFToken": csrf, "Referer": superset},
            )
            assert data.json()["data"] == [{"districts": 72, "months": 1}], data.text
            assert map_chart["form_data"]["viz_type"] == "deck_geojson"
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=40)
        finally:
            reader.join(5)
            if process.stdout is not None:
                process.stdout.close()
    # Nothing of the demo is left running: the emulator and Superset stopped with it.
    assert not reachable(dhis2_port) and not reachable(superset_port)
