"""The pipeline commands as a new user types them, against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import World

FAILING = """
from joliba import current_run, pipeline

@pipeline(name="Failing")
def failing():
    current_run.log_info("about to fail")
    raise ValueError("the data is wrong")
"""


def joliba(
    *args: str, cwd: Path, env: dict[str, str], check: bool = False
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "joliba.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def _env(tmp_path: Path, url: str | None = None, token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    if url and token:
        env.update(JOLIBA_URL=url, JOLIBA_TOKEN=token)
    return env


def test_init_push_run_wait_follow_show_logs(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    env = _env(tmp_path, world.server.url, admin.token)

    joliba("pipelines", "init", "cholera-report", cwd=tmp_path, env=env, check=True)
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

    pushed = joliba(
        "pipelines", "push", str(folder), "-w", ws, "-m", "first", "--json", cwd=tmp_path, env=env
    )
    assert pushed.returncode == 0, pushed.stderr
    version = json.loads(pushed.stdout)
    assert version["number"] == 1 and version["message"] == "first"
    assert [p["code"] for p in version["parameters"]] == ["country", "years", "dry_run"]

    listed = joliba("pipelines", "list", "-w", ws, "--json", cwd=tmp_path, env=env, check=True)
    assert json.loads(listed.stdout)[0]["code"] == "cholera-report"

    waited = joliba(
        "pipelines",
        "run",
        "cholera-report",
        "-w",
        ws,
        "--param",
        "years=2021,2022",
        "--param",
        "country=Niger",
        "--wait",
        cwd=tmp_path,
        env=env,
    )
    assert waited.returncode == 0, waited.stderr
    assert "succeeded" in waited.stderr

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
        cwd=tmp_path,
        env=env,
    )
    assert followed.returncode == 0, followed.stderr
    assert "preparing a report for Mali, years [2020]" in followed.stdout
    assert "dry run: nothing written" in followed.stdout

    runs = admin.api.get(f"/workspaces/{ws}/runs").json()["items"]
    first = next(r for r in runs if r["parameters"]["country"] == "Niger")
    assert first["parameters"]["years"] == [2021, 2022]
    shown = joliba(
        "runs", "show", first["id"], "-w", ws, "--json", cwd=tmp_path, env=env, check=True
    )
    assert json.loads(shown.stdout)["outputs"][0]["uri"] == "reports/cholera-report.csv"
    logs = joliba("runs", "logs", first["id"], "-w", ws, cwd=tmp_path, env=env, check=True)
    assert "preparing a report for Niger, years [2021, 2022]" in logs.stdout
    report = admin.api.get(f"/workspaces/{ws}/files/reports/cholera-report.csv").text
    assert report.splitlines() == ["year,cases", "2021,210", "2022,220"]


def test_failing_run_bad_parameter_and_login(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    folder = tmp_path / "failing"
    folder.mkdir()
    (folder / "pipeline.py").write_text(FAILING)

    refused = joliba(
        "login", "--url", world.server.url, "--token", "jlb_wrong", cwd=tmp_path, env=_env(tmp_path)
    )
    assert refused.returncode == 1 and "token" in refused.stderr
    env = _env(tmp_path)
    joliba(
        "login",
        "--url",
        world.server.url,
        "--token",
        admin.token,
        cwd=tmp_path,
        env=env,
        check=True,
    )
    saved = tmp_path / "config" / "joliba" / "credentials.json"
    assert saved.stat().st_mode & 0o777 == 0o600

    joliba("pipelines", "push", str(folder), "-w", ws, cwd=tmp_path, env=env, check=True)
    failed = joliba("pipelines", "run", "failing", "-w", ws, "--wait", cwd=tmp_path, env=env)
    assert failed.returncode == 1
    assert "failed" in failed.stderr and "exited with code 1" in failed.stderr

    bad = joliba(
        "pipelines", "run", "failing", "-w", ws, "--param", "nope=1", cwd=tmp_path, env=env
    )
    assert bad.returncode == 2 and "nope" in bad.stderr
    missing = joliba("pipelines", "push", str(tmp_path), "-w", ws, cwd=tmp_path, env=env)
    assert missing.returncode == 1 and "pipeline.py" in missing.stderr
    assert admin.api.get(f"/workspaces/{ws}/runs").json()["total"] == 1
