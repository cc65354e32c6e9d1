"""`joliba demo` as a new user runs it: a real server process whose printed credentials sign in."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from joliba.domain.runs import FINISHED
from tests.api.test_dataset_tables import wait_profile
from tests.fixtures.servers import wait_until_serving
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

    # A second demo on the same home keeps one connection, pointed at its new emulator.
    dhis2_port = free_port()
    process, printed = start_demo(tmp_path, env, port, dhis2_port)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as browser:
            sign_in(browser, printed)
            check_dhis2_demo(browser, printed, dhis2_port)
            listed = browser.get("/api/v1/workspaces/demo/connections").json()
            assert [c["slug"] for c in listed["items"]] == ["dhis2-demo"]
    finally:
        stop(process)
    assert not reachable(dhis2_port)


def start_demo(
    folder: Path, env: dict[str, str], port: int, dhis2_port: int
) -> tuple[subprocess.Popen[str], str]:
    """``joliba demo`` in ``folder``, and what it printed up to its DHIS2 line."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "joliba.cli.main",
            "demo",
            "--port",
            str(port),
            "--dhis2-port",
            str(dhis2_port),
        ],
        cwd=folder,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    printed = ""
    assert process.stdout is not None
    while "dhis2 " not in printed:
        line = process.stdout.readline()
        if not line:
            stop(process)
            raise AssertionError(f"demo exited early: {printed}")
        printed += line
    return process, printed


def stop(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError("the demo did not stop on Ctrl+C") from None
    finally:
        if process.stdout is not None:
            process.stdout.close()


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
