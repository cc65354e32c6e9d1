"""Platform mode: ``python -m joliba.sdk.entry`` started the way the runner starts it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from tests.sdk.helpers import platform_env, run_entry, write_pipeline

MALARIA = """
@pipeline(name="Malaria extract", timeout=3600, retries=1, retry_delay=30)
@parameter("years", type=int, name="Years", help="Years to extract", multiple=True, default=[2024])
@parameter("source", type=DHIS2Connection, name="DHIS2", required=True)
@parameter("mode", type=str, choices=["fast", "full"], default="fast")
@parameter("threshold", type=float, default=0.5)
@parameter("dry_run", type=bool, default=False)
@parameter("out", type=File, default="outputs/result.csv", required=False)
def malaria(years, source, mode, threshold, dry_run, out):
    current_run.log_info(f"extracting {years} from {source.url}")
    current_run.log_debug("dropped at info level")
    current_run.log_warning(f"mode {mode} threshold {threshold!r} dry_run {dry_run} out {out}")
    print("plain print goes to stdout", repr(source))
    a = fetch(1)
    b = fetch(2)
    total = combine(a, b)
    report(total)

@task(retries=2, retry_delay=0.1)
def fetch(n):
    return n * 10

@task
def combine(x, y):
    return x + y

@task
def report(value):
    current_run.log_info(f"total {value} run {current_run.run_id} {sorted(current_run.parameters)}")
    with workspace.open("outputs/total.txt", "w") as f:
        f.write(str(value))
    current_run.add_file_output("outputs/total.txt")
    current_run.add_table_output("malaria_cases")
    current_run.add_dataset_output("malaria-monthly", version=3)
    current_run.add_dataset_output("malaria-raw")
    current_run.progress(99, "almost")

if __name__ == "__main__":
    print("MAIN BLOCK RAN")
    malaria()
"""

DHIS2 = {
    "type": "dhis2",
    "name": "Sierra Leone DHIS2",
    "fields": {"url": "https://dhis2.example.org", "username": "admin", "password": "district"},
}


def test_the_example_pipeline_runs_and_reports_events(tmp_path: Path, files: Path) -> None:
    folder = write_pipeline(tmp_path / "code", MALARIA)
    result = run_entry(
        folder,
        {"parameters": {"years": [2023], "source": "sl-dhis2"}, "connections": {"sl-dhis2": DHIS2}},
        files_path=files,
    )
    assert result.returncode == 0, result.stderr
    assert (files / "outputs" / "total.txt").read_text() == "30"
    assert result.messages() == [
        "extracting [2023] from https://dhis2.example.org",
        "mode fast threshold 0.5 dry_run False out outputs/result.csv",
        "total 30 run run-42 ['dry_run', 'mode', 'out', 'source', 'threshold', 'years']",
    ]
    assert [e["level"] for e in result.of("log")] == ["info", "warning", "info"]
    # Ordinary prints are left alone; the __main__ block does not run on the platform.
    # A DHIS2 connection parameter is a ready client; its repr shows no credentials.
    assert (
        "plain print goes to stdout DHIS2('https://dhis2.example.org', connection='sl-dhis2')"
        in result.stdout
    )
    assert "MAIN BLOCK RAN" not in result.stdout
    outputs = [(e["kind"], e["uri"], e["name"]) for e in result.of("output")]
    assert outputs == [
        ("file", "outputs/total.txt", "total.txt"),
        ("table", "malaria_cases", "malaria_cases"),
        ("dataset", "malaria-monthly@3", "malaria-monthly"),
        ("dataset", "malaria-raw", "malaria-raw"),
    ]
    progress = [(e["percent"], e["message"]) for e in result.of("progress")]
    assert progress[-1] == (100, "4 of 4 tasks done")
    assert (99, "almost") in progress
    assert [p for p, m in progress if m and m.endswith("tasks done")] == [25, 50, 75, 100]
    assert result.tasks("fetch").count(("fetch", "running", 1)) == 2
    assert result.tasks("fetch").count(("fetch", "succeeded", 1)) == 2
    assert result.tasks("report") == [("report", "running", 1), ("report", "succeeded", 1)]
    states = [(e["name"], e["state"]) for e in result.of("task")]
    # combine waits for both fetches; report waits for combine.
    assert states.index(("combine", "running")) > max(
        i for i, s in enumerate(states) if s == ("fetch", "succeeded")
    )
    assert states.index(("report", "running")) > states.index(("combine", "succeeded"))
    for event in result.events:
        at = datetime.fromisoformat(event["at"])
        assert at.utcoffset() is not None and at.utcoffset() == UTC.utcoffset(at)
    # Secrets never leave the process: not the DHIS2 password, not the run token.
    everything = result.stdout + result.stderr + str(result.events)
    assert "district" not in everything
    assert "run-token-never-printed" not in everything


def test_log_level_filters_lower_levels(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def levels():
            current_run.log_debug("d")
            current_run.log_info("i")
            current_run.log_warning("w")
            current_run.log_error("e")
        """,
    )
    assert run_entry(folder, JOLIBA_LOG_LEVEL="warning").messages() == ["w", "e"]
    assert run_entry(folder, JOLIBA_LOG_LEVEL="debug").messages() == ["d", "i", "w", "e"]
    result = run_entry(folder, {"parameters": {}})
    assert result.returncode == 0
    assert result.messages() == ["i", "w", "e"]


def test_a_pipeline_without_tasks_simply_runs(tmp_path: Path, files: Path) -> None:
    folder = write_pipeline(
        tmp_path / "code",
        """
        @pipeline("No tasks")
        @parameter("n", type=int)
        def plain(n):
            for i in range(n):
                current_run.log_info(f"line {i}")
            with workspace.open("deep/er/file.txt", "w") as f:
                f.write(workspace.slug)
        """,
    )
    result = run_entry(folder, {"parameters": {"n": 300}}, files_path=files)
    assert result.returncode == 0, result.stderr
    assert result.messages() == [f"line {i}" for i in range(300)]
    assert result.of("progress") == [] and result.of("task") == []
    assert (files / "deep" / "er" / "file.txt").read_text() == "malaria-sl"


def test_a_failing_task_stops_the_run(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def failing():
            bad = explode(7)
            after(bad)
            slow()

        @task
        def explode(n):
            raise ValueError(f"cannot handle {n}")

        @task
        def after(value):
            current_run.log_info("after ran")

        @task
        def slow():
            time.sleep(0.3)
            current_run.log_info("slow finished")
        """,
    )
    result = run_entry(folder)
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "ValueError: cannot handle 7" in result.stderr
    assert "in explode" in result.stderr
    errors = result.messages("error")
    assert len(errors) == 1
    assert errors[0].startswith("task 'explode' failed after 1 attempt(s)")
    assert "ValueError: cannot handle 7" in errors[0]
    assert result.tasks("explode") == [("explode", "running", 1), ("explode", "failed", 1)]
    # The dependent task never starts; the one already running is waited for.
    assert result.tasks("after") == []
    assert "after ran" not in result.messages()
    assert "slow finished" in result.messages()
    assert result.tasks("slow")[-1] == ("slow", "succeeded", 1)


def test_a_task_failing_once_succeeds_on_retry(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        calls = []

        @pipeline()
        def flaky_run():
            done(flaky())

        @task(retries=2, retry_delay=0.05)
        def flaky():
            calls.append(1)
            if len(calls) == 1:
                raise ConnectionError("server busy")
            return len(calls)

        @task
        def done(attempts):
            current_run.log_info(f"flaky returned {attempts}")
        """,
    )
    result = run_entry(folder)
    assert result.returncode == 0, result.stderr
    assert result.tasks("flaky") == [
        ("flaky", "running", 1),
        ("flaky", "retrying", 1),
        ("flaky", "running", 2),
        ("flaky", "succeeded", 2),
    ]
    warnings = result.messages("warning")
    assert len(warnings) == 1
    assert "task 'flaky' failed on attempt 1 of 3" in warnings[0]
    assert "ConnectionError: server busy" in warnings[0]
    assert "flaky returned 2" in result.messages()


def test_a_task_out_of_retries_fails_with_its_last_error(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def hopeless():
            never()

        @task(retries=1, retry_delay=0)
        def never():
            raise RuntimeError("still down")
        """,
    )
    result = run_entry(folder)
    assert result.returncode == 1
    assert result.tasks("never") == [
        ("never", "running", 1),
        ("never", "retrying", 1),
        ("never", "running", 2),
        ("never", "failed", 2),
    ]
    assert result.messages("error")[0].startswith("task 'never' failed after 2 attempt(s)")
    assert "RuntimeError: still down" in result.stderr


def test_independent_tasks_run_in_parallel(tmp_path: Path) -> None:
    # Each task waits for the other at the barrier: run one after the other, they would
    # break it (BrokenBarrierError after 5 s) and the run would fail.
    folder = write_pipeline(
        tmp_path,
        """
        barrier = threading.Barrier(2, timeout=5)

        @pipeline()
        def parallel():
            both(left(), right())

        @task
        def left():
            barrier.wait()
            return "L"

        @task
        def right():
            barrier.wait()
            return "R"

        @task
        def both(a, b):
            current_run.log_info(a + b)
        """,
    )
    result = run_entry(folder)
    assert result.returncode == 0, result.stderr
    assert result.messages() == ["LR"]


def test_handles_inside_lists_and_dicts_are_dependencies(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def gather_all():
            parts = [number(i) for i in range(5)]
            gather(parts, labels={"first": parts[0], "fixed": "x"}, pair=(parts[1], 7))

        @task
        def number(i):
            return i * i

        @task
        def gather(values, labels, pair):
            current_run.log_info(f"{values} {labels} {pair}")
        """,
    )
    result = run_entry(folder)
    assert result.returncode == 0, result.stderr
    assert result.messages() == ["[0, 1, 4, 9, 16] {'first': 0, 'fixed': 'x'} (1, 7)"]


def test_an_error_in_the_pipeline_function_fails_the_run(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def broken():
            current_run.log_info("before")
            {}["missing"]
        """,
    )
    result = run_entry(folder)
    assert result.returncode == 1
    assert "KeyError: 'missing'" in result.stderr
    assert result.messages()[0] == "before"
    assert result.messages("error")[0].startswith("pipeline 'broken' failed")


def test_a_task_result_cannot_be_used_in_the_pipeline_body(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def misuse():
            if check():
                current_run.log_info("unreachable")

        @task
        def check():
            return True
        """,
    )
    result = run_entry(folder)
    assert result.returncode == 1
    assert "pass it to another task to use its value" in result.stderr


CONNECTIONS = """
@pipeline()
@parameter("dhis2", type=DHIS2Connection)
@parameter("warehouse", type=PostgreSQLConnection)
@parameter("bucket", type=S3Connection)
@parameter("api", type=CustomConnection)
@parameter("mirrors", type=DHIS2Connection, multiple=True)
@parameter("password", type=Secret)
def connect(dhis2, warehouse, bucket, api, mirrors, password):
    for value in (dhis2, warehouse, bucket, api, mirrors, password):
        print(repr(value))
    print("URL", warehouse.url)
    print("PORT", type(warehouse.port).__name__, warehouse.port)
    print("API", api.api_key, api["base_url"], api.name)
    same = workspace.connection("dhis2-a") == dhis2.connection
    print("SAME", same, workspace.connection("dhis2-b").url)
    from joliba.dhis2.client import DHIS2
    print("CLIENT", isinstance(dhis2, DHIS2), dhis2.url, dhis2.slug, dhis2.name, bool(dhis2.token))
    print("CONNECTION", repr(dhis2.connection))
    print("PASSWORD", password == "s3cr3t-pw", isinstance(password, Secret))
    try:
        workspace.connection("nope")
    except KeyError as exc:
        print("MISSING", exc)
"""


def test_connection_parameters_become_typed_objects(tmp_path: Path) -> None:
    folder = write_pipeline(tmp_path, CONNECTIONS)
    connections = {
        "dhis2-a": {
            "type": "dhis2",
            "name": "A",
            "fields": {"url": "https://a.example", "token": "d2pat_tok"},
        },
        "dhis2-b": {
            "type": "dhis2",
            "name": "B",
            "fields": {"url": "https://b.example", "username": "u", "password": "pw-b"},
        },
        "dw": {
            "type": "postgresql",
            "name": "Warehouse",
            "fields": {
                "host": "db.example",
                "port": "",
                "database": "health data",
                "username": "an@lyst",
                "password": "p@ss:w/rd",
                "sslmode": "require",
            },
        },
        "lake": {
            "type": "s3",
            "name": "Lake",
            "fields": {"bucket": "b1", "access_key_id": "AKIA1", "secret_access_key": "sk-9"},
        },
        "api": {
            "type": "custom",
            "name": "Weather API",
            "fields": {"api_key": "k-123", "base_url": "https://w.example"},
        },
    }
    parameters = {
        "dhis2": "dhis2-a",
        "warehouse": "dw",
        "bucket": "lake",
        "api": "api",
        "mirrors": ["dhis2-a", "dhis2-b"],
        "password": "s3cr3t-pw",
    }
    result = run_entry(folder, {"parameters": parameters, "connections": connections})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "DHIS2('https://a.example', connection='dhis2-a')"
    assert lines[1] == (
        "PostgreSQLConnection(slug='dw', host='db.example', port=5432, database='health data', "
        "username='an@lyst', password='********', sslmode='require')"
    )
    assert lines[2] == (
        "S3Connection(slug='lake', bucket='b1', access_key_id='AKIA1', "
        "secret_access_key='********', region='', endpoint_url='')"
    )
    assert lines[3] == (
        "CustomConnection(slug='api', name='Weather API', "
        "fields={'api_key': '********', 'base_url': '********'})"
    )
    assert lines[4] == (
        "[DHIS2('https://a.example', connection='dhis2-a'), "
        "DHIS2('https://b.example', connection='dhis2-b')]"
    )
    assert lines[5] == "Secret('********')"
    assert "URL postgresql://an%40lyst:p%40ss%3Aw%2Frd@db.example:5432/health%20data" in lines[6]
    assert lines[6].endswith("?sslmode=require")
    assert "PORT int 5432" in result.stdout
    assert "API k-123 https://w.example Weather API" in result.stdout
    assert "SAME True https://b.example" in result.stdout
    assert "CLIENT True https://a.example dhis2-a A True" in result.stdout
    assert (
        "CONNECTION DHIS2Connection(slug='dhis2-a', url='https://a.example', username='', "
        "password='', token='********')" in result.stdout
    )
    assert "PASSWORD True True" in result.stdout
    assert "MISSING no connection 'nope' in workspace 'malaria-sl'" in result.stdout
    reprs = "\n".join(lines[:6])
    for secret in ("d2pat_tok", "pw-b", "p@ss:w/rd", "sk-9", "k-123", "s3cr3t-pw"):
        assert secret not in reprs


def test_an_unknown_connection_slug_names_the_parameter(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        @parameter("source", type=DHIS2Connection)
        def extract(source):
            current_run.log_info("ran")
        """,
    )
    result = run_entry(folder, {"parameters": {"source": "ghost"}, "connections": {}})
    assert result.returncode == 1
    assert "parameter 'source': no connection 'ghost' in workspace 'malaria-sl'" in result.stderr
    assert "ran" not in result.messages()
    wrong_type = {"dw": {"type": "postgresql", "name": "DW", "fields": {"host": "h"}}}
    result = run_entry(folder, {"parameters": {"source": "dw"}, "connections": wrong_type})
    assert result.returncode == 1
    assert "connection 'dw' is a postgresql connection, not dhis2" in result.stderr


def test_without_files_path_the_workspace_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def needs_files():
            try:
                workspace.files_path
            except RuntimeError as exc:
                current_run.log_error(str(exc))
            current_run.log_info(f"database {workspace.database_url}")
        """,
    )
    result = run_entry(folder, {"database_url": "postgresql://ws@db/ws"})
    assert result.returncode == 0, result.stderr
    assert "JOLIBA_FILES_PATH is not set" in result.messages("error")[0]
    assert result.messages("info") == ["database postgresql://ws@db/ws"]


def test_events_are_dropped_when_the_runner_closed_the_pipe(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def chatty():
            for i in range(2000):
                current_run.log_info("x" * 200)
            print("finished")
        """,
    )
    result = run_entry(folder, close_events=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "finished"


def test_a_folder_without_a_pipeline_fails_clearly(tmp_path: Path) -> None:
    result = run_entry(tmp_path)
    assert result.returncode == 1
    assert f"no pipeline.py in {tmp_path}" in result.stderr
    assert result.messages("error")[0].startswith("the pipeline could not start")


def test_bad_parameter_values_fail_before_the_run(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        @parameter("n", type=int)
        def counted(n):
            current_run.log_info("ran")
        """,
    )
    result = run_entry(folder, {"parameters": {"n": "many"}})
    assert result.returncode == 1
    assert "parameter 'n': expects an integer" in result.stderr
    assert "ran" not in result.messages()


def test_sigterm_delivers_queued_events_then_dies_of_the_signal(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def long_run():
            current_run.log_info("started")
            time.sleep(60)
        """,
    )
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "joliba.sdk.entry"],
        cwd=folder,
        env=platform_env(None, write_fd),
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(write_fd,),
        start_new_session=True,
    )
    os.close(write_fd)
    try:
        assert proc.stdin is not None
        proc.stdin.close()
        with os.fdopen(read_fd, "rb") as events:
            first = json.loads(events.readline())
            assert first["message"] == "started"
            proc.send_signal(signal.SIGTERM)
            rest = [json.loads(line) for line in events]
        assert proc.wait(10) == -signal.SIGTERM
        assert [e["message"] for e in rest] == ["the run received SIGTERM and stops"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        assert proc.stderr is not None
        proc.stderr.close()


def test_only_the_main_thread_takes_sigterm_and_sigint(tmp_path: Path) -> None:
    """The SDK's threads (events, parent watch, task pool) block both signals, so that the
    kernel hands a cancel to the main thread, whose handler then runs at once."""
    folder = write_pipeline(
        tmp_path,
        """
        import signal, threading
        from pathlib import Path

        def blocked(thread):
            status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
            mask = int(status.split("SigBlk:")[1].split()[0], 16)
            return [s.name for s in (signal.SIGTERM, signal.SIGINT) if mask >> (s - 1) & 1]

        @pipeline()
        def threads():
            checked()

        @task
        def checked():
            for thread in sorted(threading.enumerate(), key=lambda t: t.name):
                name = "main" if thread is threading.main_thread() else thread.name
                current_run.log_info(f"{name.split('_')[0]}: {blocked(thread)}")
        """,
    )
    result = run_entry(folder)
    assert result.returncode == 0, result.stderr
    assert sorted(result.messages()) == [
        "joliba-events: ['SIGTERM', 'SIGINT']",
        "joliba-parent-watch: ['SIGTERM', 'SIGINT']",
        "joliba-task: ['SIGTERM', 'SIGINT']",
        "main: []",
    ]


def test_calling_the_pipeline_at_import_time_is_refused_on_the_platform(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        """
        @pipeline()
        def careless():
            current_run.log_info("ran")

        careless()
        """,
    )
    result = run_entry(folder)
    assert result.returncode == 1
    assert 'call it only under `if __name__ == "__main__":`' in result.stderr
    assert result.messages("info") == []


def test_workspace_paths_cannot_escape_the_files_folder(tmp_path: Path, files: Path) -> None:
    folder = write_pipeline(
        tmp_path / "code",
        """
        from joliba.domain.errors import Invalid

        @pipeline()
        def escape():
            for path in ("../outside.txt", "/etc/passwd", "a//b"):
                try:
                    workspace.open(path, "w")
                except Invalid as exc:
                    current_run.log_info(str(exc))
            try:
                current_run.add_file_output("../x.csv")
            except Invalid as exc:
                current_run.log_info(str(exc))
        """,
    )
    result = run_entry(folder, files_path=files)
    assert result.returncode == 0, result.stderr
    assert result.messages() == [
        "path: '..' segments are not allowed",
        "path: absolute paths are not allowed",
        "path: empty path segments are not allowed",
        "path: '..' segments are not allowed",
    ]
    assert not (tmp_path / "outside.txt").exists()
    assert result.of("output") == []


def test_file_outputs_may_be_absolute_inside_the_files_folder(tmp_path: Path, files: Path) -> None:
    (tmp_path / "secret.txt").write_text("not the workspace's")
    (files / "escape").symlink_to(tmp_path)
    (files / "reports").mkdir()
    (files / "latest").symlink_to(files / "reports")
    folder = write_pipeline(
        tmp_path / "code",
        """
        from joliba.domain.errors import Invalid

        @pipeline()
        def outputs():
            with workspace.open("reports/out.csv", "w") as out:
                out.write("a,b")
            current_run.add_file_output(workspace.files_path / "reports" / "out.csv")
            current_run.add_file_output(str(workspace.files_path / "summary.txt"))
            current_run.add_file_output(workspace.files_path / "reports" / ".." / "top.csv")
            current_run.add_file_output("latest/out.csv")
            outside = [
                workspace.files_path / ".." / "secret.txt",
                workspace.files_path / "escape" / "secret.txt",
                "escape/secret.txt",
                "/etc/passwd",
                workspace.files_path,
                "",
            ]
            for path in outside:
                try:
                    current_run.add_file_output(path)
                except Invalid as exc:
                    current_run.log_info(str(exc).replace(str(workspace.files_path), "FILES"))
        """,
    )
    result = run_entry(folder, files_path=files)
    assert result.returncode == 0, result.stderr
    # Stored relative to the files folder, links followed (the server serves no links).
    assert [(e["uri"], e["name"]) for e in result.of("output")] == [
        ("reports/out.csv", "out.csv"),
        ("summary.txt", "summary.txt"),
        ("top.csv", "top.csv"),
        ("reports/out.csv", "out.csv"),
    ]
    assert result.messages() == [
        "path: FILES/../secret.txt is outside the workspace files folder (FILES)",
        "path: FILES/escape/secret.txt is outside the workspace files folder (FILES)",
        "path: escape/secret.txt is outside the workspace files folder (FILES)",
        "path: /etc/passwd is outside the workspace files folder (FILES)",
        "path: FILES is the workspace files folder itself, not a file in it",
        "path: a path is required",
    ]


def test_without_a_files_folder_file_outputs_are_relative(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path / "code",
        """
        from joliba.domain.errors import Invalid

        @pipeline()
        def outputs():
            current_run.add_file_output("reports/out.csv")
            try:
                current_run.add_file_output("/data/out.csv")
            except Invalid as exc:
                current_run.log_info(str(exc))
        """,
    )
    result = run_entry(folder)  # S3 storage: runs get no local files folder
    assert result.returncode == 0, result.stderr
    assert [e["uri"] for e in result.of("output")] == ["reports/out.csv"]
    assert result.messages() == [
        "path: /data/out.csv is absolute, but this run has no local workspace files folder: "
        "give it relative to the workspace's files"
    ]


def test_bad_stdin_and_import_errors_fail_clearly(tmp_path: Path) -> None:
    folder = write_pipeline(tmp_path, "@pipeline()\ndef fine():\n    pass\n")
    result = run_entry(folder, stdin=b"{not json")
    assert result.returncode == 1
    assert result.stderr.startswith("error: stdin: not valid JSON")
    assert result.messages("error")[0].startswith("the pipeline could not start: stdin:")
    assert run_entry(folder, stdin=b"").returncode == 0  # no document: no parameters

    write_pipeline(tmp_path, "x = 1\nimport package_that_is_not_installed\n", header=False)
    result = run_entry(folder)
    assert result.returncode == 1
    assert 'pipeline.py", line 2, in <module>' in result.stderr
    assert "ModuleNotFoundError: No module named 'package_that_is_not_installed'" in result.stderr
    assert result.messages("error")[0].startswith("the pipeline could not start:\nTraceback")
