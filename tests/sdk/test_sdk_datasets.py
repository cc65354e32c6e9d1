"""``workspace.datasets`` and ``Dataset`` parameters against a real server: in a platform
run (with its run token), in a local run (with the CLI's credentials), and in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from joliba import Dataset, current_run, workspace
from joliba.domain.wire import Event
from joliba.sdk.context import RunContext
from joliba.sdk.datasets import DatasetError, DatasetNotFound
from joliba.sdk.events import EventWriter
from tests.conftest import Person, World
from tests.pipeline_helpers import log_messages, push, start_run, wait_for_run

MAKE_VERSION = """
import tempfile
from pathlib import Path

import polars as pl
from joliba import Dataset, current_run, parameter, pipeline

@pipeline(name="Make a version")
@parameter("target", type=Dataset)
def make(target):
    current_run.log_info(f"target {target} is a Dataset: {isinstance(target, Dataset)}")
    folder = Path(tempfile.mkdtemp())
    pl.DataFrame({"district": ["Bo", "Kenema", "Kono"], "cases": [12, 7, 30]}).write_parquet(
        folder / "cases.parquet"
    )
    version = target.create_version("2024-w01", files=[folder / "cases.parquet"], changelog="run")
    current_run.add_dataset_output(target, version)  # recorded already: not twice
    frame = target.latest.file("cases.parquet").read_polars()
    current_run.log_info(f"read {frame.height} rows, {frame['cases'].sum()} cases")
    current_run.log_info(f"author_run {version.author_run}")
"""


def _dataset(person: Person, ws: str, slug: str) -> None:
    created = person.api.post(f"/workspaces/{ws}/datasets", json={"name": slug, "slug": slug})
    assert created.status_code == 201, created.text


def test_a_platform_run_makes_a_version_and_reads_it_back(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    _dataset(admin, ws, "weekly-cases")
    push(admin.api, ws, "make-version", MAKE_VERSION)
    run = start_run(admin.api, ws, "make-version", {"target": "weekly-cases"})
    ended = wait_for_run(admin.api, ws, run["id"], timeout=120)
    messages = log_messages(admin.api, ws, run["id"])
    assert ended["state"] == "succeeded", messages
    assert "target weekly-cases is a Dataset: True" in messages
    assert "read 3 rows, 49 cases" in messages
    assert f"author_run {run['id']}" in messages

    version = admin.api.get(f"/workspaces/{ws}/datasets/weekly-cases/versions/latest").json()
    assert version["author_run"] == run["id"] and version["author"] == admin.email
    assert (version["name"], version["changelog"], version["state"]) == (
        "2024-w01",
        "run",
        "published",
    )
    assert [f["name"] for f in version["files"]] == ["cases.parquet"]
    outputs = [(o["kind"], o["uri"]) for o in ended["outputs"]]
    assert outputs == [("dataset", f"weekly-cases@{version['number']}")]


def test_a_wrong_dataset_parameter_fails_the_run_naming_it(world: World) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    push(admin.api, ws, "make-version", MAKE_VERSION)
    run = start_run(admin.api, ws, "make-version", {"target": "no-such-dataset"})
    ended = wait_for_run(admin.api, ws, run["id"], timeout=120)
    assert ended["state"] == "failed"
    text = "\n".join(log_messages(admin.api, ws, run["id"]))
    assert "parameter 'target': no dataset 'no-such-dataset'" in text
    assert "Traceback" not in text


# Local runs: `python pipeline.py`, as a user types it.

LOCAL = """
from pathlib import Path

from joliba import current_run, pipeline, workspace

@pipeline(name="Local datasets")
def local():
    dataset = workspace.datasets.create("Population", tags=["census"])
    Path("pop.csv").write_text("district,people\\nBo,575000\\nKenema,609000\\n")
    version = dataset.create_version(files=["pop.csv"], changelog="census 2015")
    frame = workspace.datasets.get("population").latest.file("pop.csv").read_pandas()
    current_run.log_info(f"{version.name}: {int(frame['people'].sum())} people")
    current_run.log_info(f"listed {[str(d) for d in workspace.datasets.list(tag='census')]}")
    current_run.log_info(f"versions {[v.name for v in dataset.versions]}")

if __name__ == "__main__":
    local()
"""


def _local(folder: Path, config: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    clean["XDG_CONFIG_HOME"] = str(config)
    clean.update(env)
    return subprocess.run(
        [sys.executable, "pipeline.py", "-c", "{}"],
        cwd=folder,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _write(folder: Path, source: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pipeline.py").write_text(textwrap.dedent(source).lstrip())
    return folder


def test_a_local_run_uses_the_cli_credentials(world: World, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    folder = _write(tmp_path / "local", LOCAL)
    config = tmp_path / "config"
    (config / "joliba").mkdir(parents=True)
    (config / "joliba" / "credentials.json").write_text(
        json.dumps({"url": world.server.url, "token": admin.token})
    )
    (folder / "workspace.yaml").write_text(f"slug: {ws}\n")
    result = _local(folder, config)
    assert result.returncode == 0, result.stderr
    assert "v1: 1184000 people" in result.stderr
    assert "listed ['population']" in result.stderr and "versions ['v1']" in result.stderr
    assert "output added (dataset): population@1" in result.stderr
    version = admin.api.get(f"/workspaces/{ws}/datasets/population/versions/1").json()
    assert version["author"] == admin.email and version["author_run"] is None

    # The environment wins over the file and the saved login.
    other = world.workspace(admin)
    again = _local(
        folder,
        tmp_path / "nothing",
        JOLIBA_URL=world.server.url,
        JOLIBA_TOKEN=admin.token,
        JOLIBA_WORKSPACE=other,
    )
    assert again.returncode == 0, again.stderr
    assert admin.api.get(f"/workspaces/{other}/datasets/population").status_code == 200


NO_SERVER = """
from joliba import Dataset, current_run, parameter, pipeline, workspace

@pipeline(name="No server")
@parameter("source", type=Dataset, default="malaria-monthly")
def no_server(source):
    current_run.log_info(f"the slug still works: {source.upper()}")
    source.latest

if __name__ == "__main__":
    no_server()
"""


def test_a_local_run_without_a_server_says_how_to_log_in(tmp_path: Path) -> None:
    folder = _write(tmp_path / "alone", NO_SERVER)
    result = _local(folder, tmp_path / "config")
    assert result.returncode == 1
    assert "the slug still works: MALARIA-MONTHLY" in result.stderr
    assert "DatasetsUnavailable" in result.stderr and "joliba login" in result.stderr

    (folder / "workspace.yaml").write_text("files_path: ./data\n")  # no slug: which workspace?
    unnamed = _local(folder, tmp_path / "config", JOLIBA_URL="http://127.0.0.1:9", JOLIBA_TOKEN="x")
    assert unnamed.returncode == 1 and "JOLIBA_WORKSPACE" in unnamed.stderr


# In-process, with a context as the platform's entry point makes one.


@dataclass
class ListSink:
    terminal = False

    def __post_init__(self) -> None:
        self.events: list[Event] = []

    def write(self, events: list[Event]) -> None:
        self.events.extend(events)


def _activate(world: World, person: Person, ws: str, monkeypatch: pytest.MonkeyPatch) -> RunContext:
    """Make the context of a run in ``ws`` the active one, as the entry point does."""
    sink = ListSink()
    active = RunContext(
        events=EventWriter(sink),
        mode="platform",
        workspace_slug=ws,
        server_url=world.server.url,
        token=person.token,
    )
    active.cache["sink"] = sink
    monkeypatch.setattr("joliba.sdk.context._active", active)
    return active


def _close(*contexts: RunContext) -> None:
    """Close the API clients the contexts opened (a run's process ends instead)."""
    for active in contexts:
        api = active.cache.get("datasets_api")
        if api is not None:
            api.client.close()


@pytest.fixture
def context(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunContext]:
    admin = world.person()
    active = _activate(world, admin, world.workspace(admin), monkeypatch)
    yield active
    _close(active)


def test_a_dataset_shared_by_another_workspace_reads_but_stays_read_only(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = world.person()
    source, reader = world.workspace(admin), world.workspace(admin)
    first = _activate(world, admin, source, monkeypatch)
    (tmp_path / "census.csv").write_text("district,people\nBo,575000\n")
    census = workspace.datasets.create("Census")
    census.create_version(files=[tmp_path / "census.csv"])
    shared = admin.api.post(
        f"/workspaces/{source}/datasets/census/shares", json={"workspace": reader}
    )
    assert shared.status_code == 201, shared.text

    _close(first)
    second = _activate(world, admin, reader, monkeypatch)
    ref = f"{source}.census"
    found = workspace.datasets.get(ref)
    assert (found, found.slug, found.workspace, found.shared) == (ref, "census", source, True)
    latest = found.latest
    assert latest is not None
    assert latest.file("census.csv").read_polars()["people"].to_list() == [575000]
    assert [str(d) for d in workspace.datasets.list()] == [ref]
    assert workspace.datasets.get("census") == "census"  # a plain slug, when unambiguous
    with pytest.raises(DatasetError, match=f"shared by workspace '{source}' and is read-only"):
        found.create_version(files=[tmp_path / "census.csv"])
    _close(second)


def _tables(folder: Path) -> list[Path]:
    frame = pl.DataFrame({"district": ["Bo", "Kenema"], "cases": [12, 7]})
    frame.write_parquet(folder / "cases.parquet")
    frame.write_csv(folder / "cases.csv")
    frame.write_json(folder / "cases.json")
    pd.DataFrame(frame.to_dict(as_series=False)).to_excel(folder / "cases.xlsx", index=False)
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [-11.7 - i, 7.9]},
            "properties": {"district": d, "cases": c},
        }
        for i, (d, c) in enumerate(frame.iter_rows())
    ]
    (folder / "cases.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": features})
    )
    (folder / "notes.txt").write_text("read me")
    return sorted(folder.iterdir())


def test_every_table_kind_reads_with_polars_and_pandas(context: RunContext, tmp_path: Path) -> None:
    dataset = workspace.datasets.create("Cases", description="Weekly", tags=("malaria",))
    assert (dataset, dataset.slug, dataset.name, dataset.description, dataset.tags) == (
        "cases",
        "cases",
        "Cases",
        "Weekly",
        ["malaria"],
    )
    assert isinstance(dataset, Dataset) and dataset.latest is None and dataset.versions == []
    files = tmp_path / "files"
    files.mkdir()
    version = dataset.create_version("first", files=_tables(files))
    assert (version.name, version.number, version.state) == ("first", 1, "published")
    expected = pl.DataFrame({"district": ["Bo", "Kenema"], "cases": [12, 7]})
    latest = workspace.datasets.get("cases").latest
    assert latest is not None and latest.number == 1
    for name in ("cases.parquet", "cases.csv", "cases.json", "cases.xlsx", "cases.geojson"):
        file = latest.file(name)
        read = file.read_polars()
        assert read.select("district", "cases").equals(expected, null_equal=True), name
        frame = file.read_pandas()
        assert frame[["district", "cases"]].to_dict("list") == expected.to_dict(as_series=False)
    with pytest.raises(ValueError, match="not a table file"):
        latest.file("notes.txt").read_polars()
    with pytest.raises(DatasetNotFound, match=r"no file 'nope.csv' \(files: cases.csv"):
        latest.file("nope.csv")

    out = tmp_path / "out"
    out.mkdir()
    assert latest.file("notes.txt").download(out) == out / "notes.txt"
    assert (out / "notes.txt").read_text() == "read me"
    assert sorted(p.name for p in latest.download(tmp_path / "all")) == [
        p.name for p in _tables(files)
    ]
    listed = dataset.versions
    assert [v.name for v in listed] == ["first"] and len(listed[0].files) == 6

    context.events.flush()
    sink: ListSink = context.cache["sink"]
    outputs = [e["uri"] for e in sink.events if e["event"] == "output"]
    current_run.add_dataset_output("cases", 1)
    current_run.add_dataset_output(dataset)
    context.events.flush()
    assert outputs == ["cases@1"]
    assert [e["uri"] for e in sink.events if e["event"] == "output"] == ["cases@1", "cases"]


def test_a_missing_reader_library_is_named(
    context: RunContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.csv").write_text("x\n1\n")
    version = workspace.datasets.create("Small").create_version(files=[tmp_path / "a.csv"])
    monkeypatch.setitem(sys.modules, "polars", None)  # as if it were not installed
    with pytest.raises(ImportError, match="needs polars, which is not installed"):
        version.file("a.csv").read_polars()
    assert version.file("a.csv").read_pandas()["x"].tolist() == [1]


def test_failures_say_what_stays_and_nothing_starts_without_files(
    context: RunContext, tmp_path: Path
) -> None:
    dataset = workspace.datasets.create("Cases")
    with pytest.raises(ValueError, match="at least one file"):
        dataset.create_version(files=[])
    with pytest.raises(ValueError, match="not files"):
        dataset.create_version(files=[tmp_path / "missing.csv"])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x.csv").write_text("x\n1\n")
    (tmp_path / "b" / "x.csv").write_text("x\n2\n")
    with pytest.raises(ValueError, match=r"two files are named x\.csv"):
        dataset.create_version(files=[tmp_path / "a" / "x.csv", tmp_path / "b" / "x.csv"])
    assert dataset.versions == []  # nothing was started

    bad = tmp_path / " spaced.csv"  # the server refuses names with surrounding spaces
    bad.write_text("x\n1\n")
    with pytest.raises(DatasetError, match="version 'v1' of dataset 'cases' stays an unpublished"):
        dataset.create_version(files=[tmp_path / "a" / "x.csv", bad])
    assert [(v.name, v.state) for v in dataset.versions] == [("v1", "draft")]
    assert dataset.latest is None

    with pytest.raises(DatasetNotFound, match="dataset 'nothing-here' not found"):
        workspace.datasets.get("nothing-here")
    with pytest.raises(DatasetNotFound):
        dataset.version(7)
