"""A server started from a relative home (as ``joliba demo`` is, with ``.joliba-demo``): its
runs still find their workspace files and database, wherever the current folder is later."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from joliba.app import create_app
from joliba.cli.common import open_platform
from joliba.runner.process import DATABASE_FILE
from tests.conftest import LiveServer, World, make_settings
from tests.pipeline_helpers import log_messages, push, start_run, wait_for_run

WRITES_TABLE = """
import polars as pl
from joliba import current_run, pipeline, workspace

@pipeline(name="Writes a table")
def writes_table():
    with workspace.open("out/cases.csv", "w") as out:
        out.write("district,cases\\nBo,12\\n")
    frame = pl.DataFrame({"district": ["Bo", "Kono"], "cases": [12, 7]})
    rows = workspace.write_table("cases", frame)
    current_run.add_table_output("cases")
    current_run.log_info(f"wrote {rows} rows")
"""


def test_a_relative_home_runs_pipelines_that_write_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_database_url: str | None
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = make_settings(
        Path(".joliba-demo"),
        fresh_database_url or "sqlite:///metadata.db",
        storage_url="files",
        package_index_url="none",
    )
    assert settings.home == tmp_path / ".joliba-demo"
    assert settings.resolved_storage_url == str(tmp_path / "files")
    if fresh_database_url is None:
        assert settings.resolved_database_url == f"sqlite:///{tmp_path}/metadata.db"
    # From here on the current folder is another one: nothing may depend on it any more.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    platform = open_platform(settings)
    try:
        with LiveServer(create_app(platform=platform)) as server:
            settings.base_url = server.url
            world = World(platform, server)
            try:
                admin = world.person()
                ws = world.workspace(admin)
                push(admin.api, ws, "writes-table", WRITES_TABLE)
                started = start_run(admin.api, ws, "writes-table")
                run = wait_for_run(admin.api, ws, started["id"], timeout=120)
                assert run["state"] == "succeeded", log_messages(admin.api, ws, run["id"])
                assert "wrote 2 rows" in log_messages(admin.api, ws, run["id"])
                workspace_id = admin.api.get(f"/workspaces/{ws}").json()["id"]
                written = admin.api.get(f"/workspaces/{ws}/files/out/cases.csv")
                assert written.text == "district,cases\nBo,12\n"
            finally:
                world.close()
    finally:
        platform.close()
    folder = tmp_path / ".joliba-demo" / "workspace-databases" / workspace_id
    with sqlite3.connect(folder / DATABASE_FILE) as con:
        rows = con.execute("SELECT district, cases FROM cases").fetchall()
    assert rows == [("Bo", 12), ("Kono", 7)]
    assert (tmp_path / "files" / "workspaces" / workspace_id / "files" / "out").is_dir()
    assert not any(elsewhere.iterdir())
