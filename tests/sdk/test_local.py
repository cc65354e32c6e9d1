"""Local mode: ``python pipeline.py [-c JSON | -f FILE]`` with no server."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.sdk.helpers import run_local, write_pipeline

LINE = re.compile(r"^\d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR) .*$")

EXTRACT = """
@pipeline(name="Local extract")
@parameter("years", type=int, multiple=True, default=[2024])
@parameter("source", type=DHIS2Connection)
@parameter("label", type=str, required=False)
def extract(years, source, label):
    current_run.log_info(f"years {years} label {label} from {source.url} ({source.name})")
    current_run.log_debug("debug detail")
    current_run.log_info(f"run id {current_run.run_id} workspace {workspace.slug}")
    total = add(years)
    save(total)

@task
def add(years):
    return sum(years)

@task
def save(total):
    with workspace.open("out/total.txt", "w") as f:
        f.write(str(total))
    current_run.add_file_output("out/total.txt")
    current_run.progress(100)

if __name__ == "__main__":
    extract()
"""

WORKSPACE_YAML = """
slug: sl-moh
files_path: ./data
database_url: sqlite:///local.db
connections:
  my-dhis2:
    type: dhis2
    name: Sierra Leone DHIS2
    url: https://play.dhis2.org/40
    username: admin
    password: district
"""


def test_runs_with_config_text_and_workspace_yaml(tmp_path: Path) -> None:
    folder = write_pipeline(tmp_path, EXTRACT)
    (folder / "workspace.yaml").write_text(WORKSPACE_YAML)
    result = run_local(folder, "-c", json.dumps({"years": [2022, 2023], "source": "my-dhis2"}))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert all(LINE.match(line) for line in lines), lines
    text = [line.split(" ", 2)[2] for line in lines]
    assert text[:2] == [
        "years [2022, 2023] label None from https://play.dhis2.org/40 (Sierra Leone DHIS2)",
        "run id None workspace sl-moh",
    ]
    assert "output added (file): out/total.txt" in text
    assert "debug detail" not in result.stderr
    assert "district" not in result.stderr
    # files_path is relative to the yaml file's folder.
    assert (folder / "data" / "out" / "total.txt").read_text() == "4045"


def test_a_relative_sqlite_database_is_beside_the_workspace_yaml(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path / "code",
        """
        @pipeline()
        def where():
            current_run.log_info(workspace.database_url)

        if __name__ == "__main__":
            where()
        """,
    )
    (folder / "workspace.yaml").write_text(WORKSPACE_YAML)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run_local(folder, cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    # As files_path: against the yaml file's folder, not the folder the run started in.
    assert result.stderr.splitlines()[0].endswith(f" INFO sqlite:///{folder}/local.db")


def test_config_file_and_log_level(tmp_path: Path) -> None:
    folder = write_pipeline(tmp_path / "code", EXTRACT)
    (folder / "workspace.yaml").write_text(WORKSPACE_YAML)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"source": "my-dhis2", "label": "x"}))
    result = run_local(folder, "-f", str(config), "--log-level", "debug")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^\d\d:\d\d:\d\d DEBUG debug detail$", result.stderr, re.M)
    assert "years [2024] label x" in result.stderr
    assert (folder / "data" / "out" / "total.txt").read_text() == "2024"


def test_workspace_yaml_in_the_current_folder_comes_first(tmp_path: Path) -> None:
    folder = write_pipeline(tmp_path / "code", EXTRACT)
    (folder / "workspace.yaml").write_text(WORKSPACE_YAML)
    here = tmp_path / "elsewhere"
    here.mkdir()
    (here / "workspace.yaml").write_text(
        "slug: other\nconnections:\n"
        "  my-dhis2: {type: dhis2, url: 'https://other.example', token: d2pat_x}\n"
    )
    result = run_local(folder, "-c", '{"source": "my-dhis2"}', cwd=here)
    assert result.returncode == 0, result.stderr
    assert "from https://other.example (my-dhis2)" in result.stderr
    assert "workspace other" in result.stderr
    assert (here / "workspace" / "out" / "total.txt").exists()  # files_path by default


def test_without_workspace_yaml_the_default_workspace_is_used(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        @parameter("n", type=int, default=2)
        def simple(n):
            current_run.log_info(f"{workspace.slug} {workspace.files_path} {n}")
            with workspace.open("a/b.txt", "w") as f:
                f.write("ok")

        if __name__ == "__main__":
            simple()
        """,
    )
    result = run_local(folder)
    assert result.returncode == 0, result.stderr
    assert f"local {folder / 'workspace'} 2" in result.stderr
    assert (folder / "workspace" / "a" / "b.txt").read_text() == "ok"


def test_bad_values_exit_2_before_anything_runs(tmp_path: Path) -> None:
    folder = write_pipeline(tmp_path, EXTRACT)
    (folder / "workspace.yaml").write_text(WORKSPACE_YAML)
    cases = {
        '{"years": ["x"], "source": "my-dhis2"}': "error: parameter 'years': expects an integer",
        '{"source": "my-dhis2", "extra": 1}': "error: parameter 'extra': unknown parameter",
        "{}": "error: parameter 'source': a value is required",
        '{"source": "ghost"}': "error: parameter 'source': no connection 'ghost' in workspace",
        "[1, 2]": "error: --config: expected a JSON object",
        "{nope": "error: --config: not valid JSON",
    }
    for config, message in cases.items():
        result = run_local(folder, "-c", config)
        assert result.returncode == 2, (config, result.stderr)
        assert result.stderr.startswith(message), (config, result.stderr)
        assert not (folder / "data").exists()
    result = run_local(folder, "-f", str(folder / "missing.json"))
    assert result.returncode == 2
    assert "error: --config-file: cannot read" in result.stderr
    result = run_local(folder, "-c", "{}", "-f", "x.json")
    assert result.returncode == 2
    assert "not allowed with argument" in result.stderr


def test_a_bad_workspace_yaml_is_a_clear_error(tmp_path: Path) -> None:
    folder = write_pipeline(tmp_path, EXTRACT)
    (folder / "workspace.yaml").write_text("connections:\n  x: {type: ftp}\n")
    result = run_local(folder, "-c", '{"source": "x"}')
    assert result.returncode == 2
    assert "workspace.yaml: connection 'x': type must be one of" in result.stderr
    # A DHIS2 connection becomes a client: without credentials it cannot, and says why.
    (folder / "workspace.yaml").write_text("connections:\n  x: {type: dhis2, url: 'https://a.b'}\n")
    result = run_local(folder, "-c", '{"source": "x"}')
    assert result.returncode == 2
    assert result.stderr == (
        "error: parameter 'source': connection 'x': give DHIS2 a username and password, "
        "or a personal access token\n"
    )


def test_a_failure_exits_1_with_the_traceback(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def failing():
            step()

        @task
        def step():
            raise ZeroDivisionError("no data for the period")

        if __name__ == "__main__":
            failing()
        """,
    )
    result = run_local(folder)
    assert result.returncode == 1
    assert re.search(
        r"^\d\d:\d\d:\d\d ERROR task 'step' failed after 1 attempt", result.stderr, re.M
    )
    assert "ZeroDivisionError: no data for the period" in result.stderr
    # Locally the log is stderr: the traceback is printed once.
    assert result.stderr.count("Traceback (most recent call last)") == 1


def test_a_task_outside_a_run_is_a_plain_function(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @task(retries=3)
        def double(x):
            current_run.log_info(f"doubling {x}")
            return 2 * x

        assert double(21) == 42
        print("task called directly:", double(1))
        """,
    )
    result = run_local(folder)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "task called directly: 2\n"
    assert re.search(r"^\d\d:\d\d:\d\d INFO doubling 21$", result.stderr, re.M)


READS_DHIS2 = """
@pipeline()
@parameter("source", type=DHIS2Connection)
@parameter("touch", type=bool, default=True)
def read(source, touch):
    current_run.log_info(f"client {source!r} for {source.connection.name}")
    if touch:
        regions = source.organisation_units(level=2)
        current_run.log_info(f"DHIS2 {source.version}: {regions.height} regions")

if __name__ == "__main__":
    read()
"""


def test_a_dhis2_connection_parameter_is_a_client_that_connects_on_first_use(
    tmp_path: Path,
) -> None:
    from tests.dhis2.emulator_support import live_emulator

    folder = write_pipeline(tmp_path, READS_DHIS2)
    with live_emulator(scale=0.1) as dhis2:
        (folder / "workspace.yaml").write_text(
            "connections:\n"
            f"  emu: {{type: dhis2, name: Emulated, url: '{dhis2.base_url}',"
            " username: admin, password: district}\n"
        )
        result = run_local(folder, "-c", '{"source": "emu"}')
    assert result.returncode == 0, result.stderr
    assert f"client DHIS2('{dhis2.base_url}', connection='emu') for Emulated" in result.stderr
    assert "DHIS2 2.39.5: 8 regions" in result.stderr
    assert "district" not in result.stderr
    # The emulator has stopped: a run that never uses the client never notices.
    result = run_local(folder, "-c", '{"source": "emu", "touch": false}')
    assert result.returncode == 0, result.stderr


def test_the_dhis2_in_pipelines_example_runs(tmp_path: Path) -> None:
    """docs/dhis2.md, section "In pipelines": its pipeline runs against the emulator."""
    from tests.dhis2.emulator_support import live_emulator

    text = (Path(__file__).parents[2] / "docs" / "dhis2.md").read_text()
    section = text.split("\n## In pipelines\n", 1)[1].split("\n## ", 1)[0]
    [block] = re.findall(r"```python\n(.*?)```", section, re.S)
    folder = write_pipeline(tmp_path, block + '\nif __name__ == "__main__":\n    districts()\n')
    with live_emulator(scale=0.1) as dhis2:
        (folder / "workspace.yaml").write_text(
            "connections:\n"
            f"  emu: {{type: dhis2, url: '{dhis2.base_url}',"
            " username: admin, password: district}\n"
        )
        uid = dhis2.get(
            "/api/dataElements", params={"filter": "name:eq:Malaria confirmed cases"}
        ).json()["dataElements"][0]["id"]
        config = json.dumps({"source": "emu", "elements": [uid]})
        result = run_local(folder, "-c", config)
    assert result.returncode == 0, result.stderr
    assert "data elements: Malaria confirmed cases" in result.stderr
    assert "72 districts" in result.stderr
