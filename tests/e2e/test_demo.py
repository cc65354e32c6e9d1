"""`joliba demo` as a new user runs it: a real server process whose printed credentials sign in,
and, started again with `--with-superset`, Superset beside it with the health map's dashboard."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from joliba.domain.runs import FINISHED
from joliba.services import superset_demo
from tests.api.test_dataset_tables import wait_profile
from tests.conftest import CI
from tests.fixtures.servers import wait_until_serving
from tests.fixtures.superset import VENV as SUPERSET_VENV
from tests.fixtures.superset import installed as superset_installed
from tests.fixtures.waiting import eventually


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_and_its_credentials_sign_in(
    tmp_path: Path, fresh_database_url: str | None
) -> None:
    port, dhis2_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    if fresh_database_url:
        env["JOLIBA_DATABASE_URL"] = fresh_database_url
    process, printed = start_demo(tmp_path, env, port, dhis2_port)
    try:
        base = f"http://127.0.0.1:{port}"
        assert f"{base}/login" in printed
        with httpx.Client(base_url=base, timeout=10) as browser:
            sign_in(browser, printed)
            home = browser.get("/w/demo")
            assert home.status_code == 200 and "Demo" in home.text
            files = browser.get("/api/v1/workspaces/demo/files", params={"path": "data"}).json()
            assert files["items"][0]["name"] == "malaria_confirmed_cases_2025.csv"
            sample = browser.get(f"/api/v1/workspaces/demo/files/{files['items'][0]['path']}")
            assert sample.text.startswith("district,period,confirmed_cases,tested")
            runs = browser.get("/api/v1/workspaces/demo/pipelines/malaria-report/runs").json()
            assert [r["state"] for r in runs["items"]] == ["succeeded"]
            run_page = browser.get(f"/w/demo/runs/{runs['items'][0]['id']}")
            assert run_page.status_code == 200 and "succeeded" in run_page.text
            dataset = browser.get("/api/v1/workspaces/demo/datasets/malaria-cases").json()
            assert dataset["latest"]["name"] == "2025-full-year"
            profile_url = (
                "/api/v1/workspaces/demo/datasets/malaria-cases/versions/latest/files/"
                "cases.csv/profile"
            )
            profile = wait_profile(browser, profile_url)
            assert profile["state"] == "done", profile
            assert profile["rows"] == 13 * 12  # 13 districts, 12 months
            check_dhis2_demo(browser, printed, dhis2_port)
            check_health_map(browser)
        assert (tmp_path / ".joliba-demo" / "secret_key").stat().st_mode & 0o777 == 0o600
    finally:
        stop(process)
    # Nothing of the demo is left running: the emulator stopped with it.
    assert not reachable(dhis2_port)

    # A second demo on the same home keeps one connection, pointed at its new emulator; with
    # --with-superset it also starts Superset and builds the health map's dashboard from the
    # table the first one's run wrote.
    need_superset()
    dhis2_port, superset_port = free_port(), free_port()
    env["JOLIBA_SUPERSET_VENV"] = str(SUPERSET_VENV)  # installed once for the whole suite
    superset = ["--with-superset", f"--superset-port={superset_port}"]
    process, printed = start_demo(tmp_path, env, port, dhis2_port, *superset)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as browser:
            sign_in(browser, printed)
            check_dhis2_demo(browser, printed, dhis2_port)
            listed = browser.get("/api/v1/workspaces/demo/connections").json()
            assert [c["slug"] for c in listed["items"]] == ["dhis2-demo"]
            check_superset_demo(browser, process, f"http://127.0.0.1:{superset_port}")
    finally:
        stop(process)
    # Nothing of the demo is left running: the emulator and Superset stopped with it.
    assert not reachable(dhis2_port) and not reachable(superset_port)


def need_superset() -> None:
    if not superset_installed():
        message = f"Superset is not installed in {SUPERSET_VENV} (make superset)"
        (pytest.fail if CI else pytest.skip)(message)


def check_superset_demo(browser: httpx.Client, process: Demo, superset: str) -> None:
    """Superset beside the demo: the health map's dashboard is built, listed and embedded in
    the workspace, and the admin, handed over by Joliba, sees the demo's database there with
    the map's 72 districts."""
    line = process.wait_for("  dashboard ", timeout=120)
    assert f"  superset  {superset} (sign in through Joliba" in process.printed()
    path = line.split()[1].removeprefix(str(browser.base_url).rstrip("/"))
    assert re.fullmatch(r"/w/demo/dashboards/\d+", path), line
    dashboard_id = int(path.rsplit("/", 1)[1])
    (listed,) = browser.get("/api/v1/workspaces/demo/dashboards").json()
    assert listed["id"] == dashboard_id and listed["title"] == superset_demo.TITLE
    assert browser.get(path).status_code == 200
    handed = browser.get("/superset/signin", params={"next": "/sqllab/"})
    assert handed.status_code == 303
    target = urlsplit(handed.headers["location"])
    with httpx.Client(base_url=superset, timeout=60) as client:
        assert client.get(f"{target.path}?{target.query}").status_code == 302
        databases = client.get("/api/v1/database/").json()["result"]
        assert [d["database_name"] for d in databases] == ["demo"]
        charts = client.get(f"/api/v1/dashboard/{dashboard_id}/charts").json()["result"]
        shown = {c["slice_name"]: c["form_data"]["viz_type"] for c in charts}
        assert shown["District map, latest month"] == "deck_geojson"
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


class Demo:
    """A ``joliba demo`` process and what it has printed so far (read by a thread)."""

    def __init__(self, command: list[str], folder: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            command,
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        assert self.process.stdout is not None
        stdout = self.process.stdout
        self.reader = threading.Thread(target=lambda: self.lines.extend(stdout), daemon=True)
        self.reader.start()

    def printed(self) -> str:
        return "".join(self.lines)

    def wait_for(self, start: str, timeout: float = 60) -> str:
        """The first line printed that contains ``start``, once it is."""

        def found() -> str | None:
            line = next((line for line in list(self.lines) if start in line), None)
            if line is None and self.process.poll() is not None:
                raise AssertionError(f"the demo exited early:\n{self.printed()}")
            return line

        return eventually(found, timeout=timeout, interval=0.1, message=self.printed)


def start_demo(
    folder: Path, env: dict[str, str], port: int, dhis2_port: int, *more: str
) -> tuple[Demo, str]:
    """``joliba demo`` in ``folder``, and what it printed up to its DHIS2 line."""
    command = [sys.executable, "-m", "joliba.cli.main", "demo", "--port", str(port)]
    demo = Demo([*command, "--dhis2-port", str(dhis2_port), *more], folder, env)
    try:
        demo.wait_for("dhis2 ")
    except BaseException:
        stop(demo)
        raise
    return demo, demo.printed()


def stop(demo: Demo) -> None:
    demo.process.send_signal(signal.SIGINT)
    try:
        demo.process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        demo.process.kill()
        raise AssertionError("the demo did not stop on Ctrl+C") from None
    finally:
        demo.reader.join(5)
        if demo.process.stdout is not None:
            demo.process.stdout.close()


def reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def sign_in(browser: httpx.Client, printed: str) -> None:
    email = re.search(r"email\s+(\S+)", printed).group(1)  # type: ignore[union-attr]
    password = re.search(r"password\s+(\S+)", printed).group(1)  # type: ignore[union-attr]
    page = wait_until_serving("/login", client=browser, timeout=30)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    signed = browser.post("/login", data={"email": email, "password": password, "csrf_token": csrf})
    assert signed.status_code == 303, signed.text


def check_dhis2_demo(browser: httpx.Client, printed: str, dhis2_port: int) -> None:
    """The demo's DHIS2 emulator answers, and the workspace connection points at it."""
    url = f"http://127.0.0.1:{dhis2_port}"
    assert f"dhis2     {url} (emulator; connection dhis2-demo" in printed
    info = httpx.get(f"{url}/api/system/info", auth=("admin", "district"), timeout=10)
    assert info.status_code == 200 and info.json()["version"].startswith("2.39")
    connection = browser.get("/api/v1/workspaces/demo/connections/dhis2-demo").json()
    assert connection["type"] == "dhis2"
    assert connection["fields"]["url"] == url
    assert connection["fields"]["username"] == "admin"
    # The demo allows its own server internal addresses: the emulator is on 127.0.0.1.
    page = browser.get("/w/demo").text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    tested = browser.post(
        "/api/v1/workspaces/demo/connections/dhis2-demo/test", headers={"X-CSRF-Token": csrf}
    ).json()
    assert tested["ok"] is True and tested["message"].startswith("connected to DHIS2 2.39"), tested


def check_health_map(browser: httpx.Client) -> None:
    """The health map the demo queued: its run reads the emulator, publishes the districts
    with their boundaries and 2025's values, and the dataset draws as a map."""
    runs = "/api/v1/workspaces/demo/pipelines/health-map/runs"

    def ended() -> str | None:
        items = browser.get(runs).json()["items"]
        return items[0]["state"] if items and items[0]["state"] in FINISHED else None

    assert eventually(ended, timeout=120, message="the health-map run to end") == "succeeded"
    files = "/api/v1/workspaces/demo/datasets/health-map/versions/latest/files"
    layer = browser.get(f"{files}/health_map.parquet/map").json()
    assert len(layer["features"]) == 72  # the emulator's districts
    assert layer["periods"] == [f"2025{m:02d}" for m in range(1, 13)]
    tables = browser.get("/api/v1/workspaces/demo/database/tables").json()
    assert [(t["name"], t["rows"]) for t in tables] == [("health_map", 72 * 12)]
