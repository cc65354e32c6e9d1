"""The pipeline commands as a new user types them, against a real server (run in process:
tests/fixtures/cli.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import World
from tests.fixtures.cli import against

FAILING = """
from joliba import current_run, pipeline

@pipeline(name="Failing")
def failing():
    current_run.log_info("about to fail")
    raise ValueError("the data is wrong")
"""


def test_init_push_run_wait_follow_show_logs(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    joliba = against(world.server.url, admin.token, tmp_path)

    joliba("pipelines", "init", "cholera-report").ok()
    folder = tmp_path / "cholera-report"
    assert (folder / "pipeline.py").is_file() and (folder / "tests").is_dir()
    own_tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "tests"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert own_tests.returncode == 0, own_tests.stdout + own_tests.stderr
    (folder / ".venv").mkdir()
    (folder / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")

    pushed = joliba("pipelines", "push", str(folder), "-w", ws, "-m", "first", "--json")
    assert pushed.exit_code == 0, pushed.stderr
    version = json.loads(pushed.stdout)
    assert version["number"] == 1 and version["message"] == "first"
    assert [p["code"] for p in version["parameters"]] == ["country", "years", "dry_run"]

    listed = joliba("pipelines", "list", "-w", ws, "--json").ok()
    assert json.loads(listed.stdout)[0]["code"] == "cholera-report"

    waited = joliba(
        "pipelines",
        "run",
        "cholera-report",
        "-w",
        ws,
        "--param",
        "years=2021",
        "--param",
        "country=Niger",
        "--param",
        "years=2022",
        "--wait",
    )
    assert waited.exit_code == 0, waited.stderr
    assert "succeeded" in waited.stderr
    twice = joliba(
        "pipelines",
        "run",
        "cholera-report",
        "-w",
        ws,
        "--param",
        "country=Niger",
        "--param",
        "country=Mali",
    )
    assert twice.exit_code == 2
    assert "error: --param country: given more than once" in twice.stderr

    config = tmp_path / "config.json"
    config.write_text(json.dumps({"years": [2020], "dry_run": True}))
    followed = joliba(
        "pipelines",
        "run",
        "cholera-report",
        "-w",
        ws,
        "--config",
        str(config),
        "--follow",
    )
    assert followed.exit_code == 0, followed.stderr
    assert "preparing a report for Mali, years [2020]" in followed.stdout
    assert "dry run: nothing written" in followed.stdout

    runs = admin.api.get(f"/workspaces/{ws}/runs").json()["items"]
    assert len(runs) == 2  # the refused one was never queued
    first = next(r for r in runs if r["parameters"]["country"] == "Niger")
    assert first["parameters"]["years"] == [2021, 2022]
    shown = joliba("runs", "show", first["id"], "-w", ws, "--json").ok()
    assert json.loads(shown.stdout)["outputs"][0]["uri"] == "reports/cholera-report.csv"
    logs = joliba("runs", "logs", first["id"], "-w", ws).ok()
    assert "preparing a report for Niger, years [2021, 2022]" in logs.stdout
    report = admin.api.get(f"/workspaces/{ws}/files/reports/cholera-report.csv").text
    assert report.splitlines() == ["year,cases", "2021,210", "2022,220"]


def test_failing_run_bad_parameter_and_login(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    folder = tmp_path / "failing"
    folder.mkdir()
    (folder / "pipeline.py").write_text(FAILING)
    joliba = against(None, None, tmp_path)  # signed in by `joliba login` below

    refused = joliba("login", "--url", world.server.url, "--token", "jlb_wrong")
    assert refused.exit_code == 1 and "token" in refused.stderr
    joliba("login", "--url", world.server.url, "--token", admin.token).ok()
    saved = tmp_path / "config" / "joliba" / "credentials.json"
    assert saved.stat().st_mode & 0o777 == 0o600

    joliba("pipelines", "push", str(folder), "-w", ws).ok()
    failed = joliba("pipelines", "run", "failing", "-w", ws, "--wait")
    assert failed.exit_code == 1
    assert "failed" in failed.stderr and "exited with code 1" in failed.stderr

    bad = joliba("pipelines", "run", "failing", "-w", ws, "--param", "nope=1")
    assert bad.exit_code == 2 and "nope" in bad.stderr
    missing = joliba("pipelines", "push", str(tmp_path), "-w", ws)
    assert missing.exit_code == 1 and "pipeline.py" in missing.stderr
    assert admin.api.get(f"/workspaces/{ws}/runs").json()["total"] == 1
