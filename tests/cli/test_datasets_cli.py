"""``joliba datasets`` as a user types it, against a real server."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from tests.conftest import World


def joliba(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "joliba.cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _env(tmp_path: Path, url: str, token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    env.update(
        XDG_CONFIG_HOME=str(tmp_path / "config"), JOLIBA_URL=url, JOLIBA_TOKEN=token, COLUMNS="200"
    )
    return env


def _ok(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_create_push_show_pull(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    env = _env(tmp_path, world.server.url, admin.token)
    run = lambda *args: joliba(*args, cwd=tmp_path, env=env)  # noqa: E731

    created = _ok(
        run(
            "datasets",
            "create",
            "Malaria cases",
            "-w",
            ws,
            "--description",
            "Weekly",
            "--tag",
            "Malaria",
            "--tag",
            "HMIS",
            "--json",
        )
    )
    assert json.loads(created.stdout)["tags"] == ["hmis", "malaria"]
    source = tmp_path / "source"
    source.mkdir()
    (source / "cases.csv").write_text("district,cases\nBo,12\nKenema,7\n")
    folder = source / "tables"
    folder.mkdir()
    pl.DataFrame({"district": ["Bo", "Kenema"], "cases": [12, 7]}).write_parquet(
        folder / "cases.parquet"
    )
    (folder / ".hidden").write_text("not pushed")

    pushed = _ok(
        run(
            "datasets",
            "push",
            "malaria-cases",
            str(source / "cases.csv"),
            str(folder),
            "-w",
            ws,
            "-m",
            "first week",
            "--json",
        )
    )
    version = json.loads(pushed.stdout)
    assert (version["name"], version["state"], version["changelog"]) == (
        "v1",
        "published",
        "first week",
    )
    assert [f["name"] for f in version["files"]] == ["cases.csv", "cases.parquet"]
    second = _ok(
        run(
            "datasets",
            "push",
            "malaria-cases",
            str(source / "cases.csv"),
            "-w",
            ws,
            "--name",
            "2024-w02",
        )
    )
    assert "published version 2024-w02 of malaria-cases: 1 file(s)" in second.stdout

    listed = json.loads(_ok(run("datasets", "list", "-w", ws, "--tag", "malaria", "--json")).stdout)
    assert [(d["slug"], d["latest"]["name"]) for d in listed] == [("malaria-cases", "2024-w02")]
    table = _ok(run("datasets", "list", "-w", ws, "--search", "malaria")).stdout
    assert "malaria-cases" in table and "2024-w02" in table
    shown = json.loads(_ok(run("datasets", "show", "malaria-cases", "-w", ws, "--json")).stdout)
    assert [v["name"] for v in shown["versions"]] == ["2024-w02", "v1"]
    text = _ok(run("datasets", "show", "malaria-cases", "-w", ws)).stdout
    assert "Weekly" in text and "first week" in text and "cases.csv" in text
    one = _ok(run("datasets", "show", "malaria-cases", "-w", ws, "--version", "1")).stdout
    assert "cases.parquet" in one and "first week" in one

    pulled = _ok(
        run(
            "datasets",
            "pull",
            "malaria-cases",
            "-w",
            ws,
            "--version",
            "v1",
            "--output",
            str(tmp_path / "out"),
        )
    )
    assert "2 file(s) into" in pulled.stdout
    for original in (source / "cases.csv", folder / "cases.parquet"):
        assert (tmp_path / "out" / original.name).read_bytes() == original.read_bytes()
    again = json.loads(
        _ok(
            run(
                "datasets",
                "pull",
                "malaria-cases",
                "-w",
                ws,
                "-v",
                "1",
                "-o",
                str(tmp_path / "out"),
                "--json",
            )
        ).stdout
    )
    assert [f["downloaded"] for f in again] == [False, False]
    _ok(run("datasets", "pull", "malaria-cases", "-w", ws))  # latest, into ./malaria-cases
    assert sorted(p.name for p in (tmp_path / "malaria-cases").iterdir()) == ["cases.csv"]
    digest = hashlib.sha256((source / "cases.csv").read_bytes()).hexdigest()
    assert again[0]["sha256"] == digest


def test_push_refusals(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    env = _env(tmp_path, world.server.url, admin.token)
    run = lambda *args: joliba(*args, cwd=tmp_path, env=env)  # noqa: E731
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")

    missing = run("datasets", "push", "population", str(data), "-w", ws)
    assert missing.returncode == 1
    assert "dataset 'population' not found" in missing.stderr and "--create" in missing.stderr
    assert admin.api.get(f"/workspaces/{ws}/datasets").json()["total"] == 0
    made = _ok(run("datasets", "push", "population", str(data), "-w", ws, "--create"))
    assert "created dataset population" in made.stderr and "published version v1" in made.stdout

    nowhere = run("datasets", "list", "-w", "no-such-workspace")
    assert nowhere.returncode == 1 and "workspace 'no-such-workspace' not found" in nowhere.stderr
    no_file = run("datasets", "push", "population", str(tmp_path / "nope.csv"), "-w", ws)
    assert no_file.returncode == 2 and "nope.csv" in no_file.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run("datasets", "push", "population", str(empty), "-w", ws)
    assert nothing.returncode == 2 and "no files to push" in nothing.stderr

    bad = tmp_path / " spaced.csv"  # the server refuses the name once the draft exists
    bad.write_text("a\n2\n")
    failed = run("datasets", "push", "population", str(data), str(bad), "-w", ws)
    assert failed.returncode == 1
    assert "version v2 of population stays an unpublished draft" in failed.stderr
    versions = admin.api.get(f"/workspaces/{ws}/datasets/population/versions").json()["items"]
    assert [(v["name"], v["state"]) for v in versions] == [("v2", "draft"), ("v1", "published")]
    none = run("datasets", "pull", "population", "-w", ws, "--version", "v9")
    assert none.returncode == 1 and "no version 'v9'" in none.stderr


def test_a_shared_dataset_shows_and_pulls(world: World, tmp_path: Path) -> None:
    admin = world.person()
    source, reader = world.workspace(admin), world.workspace(admin)
    env = _env(tmp_path, world.server.url, admin.token)
    run = lambda *args: joliba(*args, cwd=tmp_path, env=env)  # noqa: E731
    data = tmp_path / "census.csv"
    data.write_text("district,people\nBo,575000\n")
    _ok(run("datasets", "push", "census", str(data), "-w", source, "--create"))
    shared = admin.api.post(
        f"/workspaces/{source}/datasets/census/shares", json={"workspace": reader}
    )
    assert shared.status_code == 201, shared.text

    ref = f"{source}.census"
    listed = _ok(run("datasets", "list", "-w", reader)).stdout
    assert ref in listed
    shown = _ok(run("datasets", "show", ref, "-w", reader)).stdout
    assert f"shared by: {source}" in shown and "census.csv" in shown
    _ok(run("datasets", "pull", ref, "-w", reader, "-o", str(tmp_path / "got")))
    assert (tmp_path / "got" / "census.csv").read_bytes() == data.read_bytes()
    refused = run("datasets", "push", ref, str(data), "-w", reader)
    assert refused.returncode == 1 and "read-only here" in refused.stderr
