"""``joliba datasets`` as a user types it, against a real server (run in process:
tests/fixtures/cli.py)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl

from tests.conftest import World
from tests.fixtures.cli import against


def test_create_push_show_pull(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    run = against(world.server.url, admin.token, tmp_path)

    created = run(
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
    ).ok()
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

    pushed = run(
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
    ).ok()
    version = json.loads(pushed.stdout)
    assert (version["name"], version["state"], version["changelog"]) == (
        "v1",
        "published",
        "first week",
    )
    assert [f["name"] for f in version["files"]] == ["cases.csv", "cases.parquet"]
    second = run(
        "datasets",
        "push",
        "malaria-cases",
        str(source / "cases.csv"),
        "-w",
        ws,
        "--name",
        "2024-w02",
    ).ok()
    assert "published version 2024-w02 of malaria-cases: 1 file(s)" in second.stdout

    listed = json.loads(run("datasets", "list", "-w", ws, "--tag", "malaria", "--json").ok().stdout)
    assert [(d["slug"], d["latest"]["name"]) for d in listed] == [("malaria-cases", "2024-w02")]
    table = run("datasets", "list", "-w", ws, "--search", "malaria").ok().stdout
    assert "malaria-cases" in table and "2024-w02" in table
    shown = json.loads(run("datasets", "show", "malaria-cases", "-w", ws, "--json").ok().stdout)
    assert [v["name"] for v in shown["versions"]] == ["2024-w02", "v1"]
    text = run("datasets", "show", "malaria-cases", "-w", ws).ok().stdout
    assert "Weekly" in text and "first week" in text and "cases.csv" in text
    one = run("datasets", "show", "malaria-cases", "-w", ws, "--version", "1").ok().stdout
    assert "cases.parquet" in one and "first week" in one

    pulled = run(
        "datasets",
        "pull",
        "malaria-cases",
        "-w",
        ws,
        "--version",
        "v1",
        "--output",
        str(tmp_path / "out"),
    ).ok()
    assert "2 file(s) into" in pulled.stdout
    for original in (source / "cases.csv", folder / "cases.parquet"):
        assert (tmp_path / "out" / original.name).read_bytes() == original.read_bytes()
    again = json.loads(
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
        .ok()
        .stdout
    )
    assert [f["downloaded"] for f in again] == [False, False]
    run("datasets", "pull", "malaria-cases", "-w", ws).ok()  # latest, into ./malaria-cases
    assert sorted(p.name for p in (tmp_path / "malaria-cases").iterdir()) == ["cases.csv"]
    digest = hashlib.sha256((source / "cases.csv").read_bytes()).hexdigest()
    assert again[0]["sha256"] == digest


def test_push_refusals(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    run = against(world.server.url, admin.token, tmp_path)
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")

    missing = run("datasets", "push", "population", str(data), "-w", ws)
    assert missing.exit_code == 1
    assert "dataset 'population' not found" in missing.stderr and "--create" in missing.stderr
    assert admin.api.get(f"/workspaces/{ws}/datasets").json()["total"] == 0
    made = run("datasets", "push", "population", str(data), "-w", ws, "--create").ok()
    assert "created dataset population" in made.stderr and "published version v1" in made.stdout

    nowhere = run("datasets", "list", "-w", "no-such-workspace")
    assert nowhere.exit_code == 1 and "workspace 'no-such-workspace' not found" in nowhere.stderr
    no_file = run("datasets", "push", "population", str(tmp_path / "nope.csv"), "-w", ws)
    assert no_file.exit_code == 2 and "nope.csv" in no_file.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = run("datasets", "push", "population", str(empty), "-w", ws)
    assert nothing.exit_code == 2 and "no files to push" in nothing.stderr

    bad = tmp_path / " spaced.csv"  # the server refuses the name once the draft exists
    bad.write_text("a\n2\n")
    failed = run("datasets", "push", "population", str(data), str(bad), "-w", ws)
    assert failed.exit_code == 1
    assert "version v2 of population stays an unpublished draft" in failed.stderr
    versions = admin.api.get(f"/workspaces/{ws}/datasets/population/versions").json()["items"]
    assert [(v["name"], v["state"]) for v in versions] == [("v2", "draft"), ("v1", "published")]
    none = run("datasets", "pull", "population", "-w", ws, "--version", "v9")
    assert none.exit_code == 1 and "no version 'v9'" in none.stderr


def test_a_shared_dataset_shows_and_pulls(world: World, tmp_path: Path) -> None:
    admin = world.person()
    source, reader = world.workspace(admin), world.workspace(admin)
    run = against(world.server.url, admin.token, tmp_path)
    data = tmp_path / "census.csv"
    data.write_text("district,people\nBo,575000\n")
    run("datasets", "push", "census", str(data), "-w", source, "--create").ok()
    shared = admin.api.post(
        f"/workspaces/{source}/datasets/census/shares", json={"workspace": reader}
    )
    assert shared.status_code == 201, shared.text

    ref = f"{source}.census"
    listed = run("datasets", "list", "-w", reader).ok().stdout
    assert ref in listed
    shown = run("datasets", "show", ref, "-w", reader).ok().stdout
    assert f"shared by: {source}" in shown and "census.csv" in shown
    run("datasets", "pull", ref, "-w", reader, "-o", str(tmp_path / "got")).ok()
    assert (tmp_path / "got" / "census.csv").read_bytes() == data.read_bytes()
    refused = run("datasets", "push", ref, str(data), "-w", reader)
    assert refused.exit_code == 1 and "read-only here" in refused.stderr


def test_to_table_loads_a_version_into_the_workspace_database(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    run = against(world.server.url, admin.token, tmp_path)
    (tmp_path / "cases.csv").write_text("district,cases\nBo,12\nKenema,7\n")
    run("datasets", "push", "cases", str(tmp_path / "cases.csv"), "-w", ws, "--create").ok()
    said = run(
        "datasets",
        "to-table",
        "cases",
        "-w",
        ws,
        "--file",
        "cases.csv",
        "--table",
        "cases",
        "--follow",
    ).ok()
    assert "loaded 2 rows of cases version 1 (cases.csv) into table cases" in said.stdout
    assert "follows the dataset's new versions" in said.stdout
    rows = admin.api.post(
        f"/workspaces/{ws}/database/query", json={"sql": "SELECT sum(cases) FROM cases"}
    ).json()["rows"]
    assert rows == [[19]]
    refused = run("datasets", "to-table", "cases", "-w", ws, "--file", "nope.csv", "--table", "x")
    assert refused.exit_code == 1 and "nope.csv" in refused.stderr
