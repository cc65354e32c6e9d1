"""``python -m joliba.sdk.inspect DIR``: the spec the server stores at push time."""

from __future__ import annotations

import json
from pathlib import Path

from tests.sdk.helpers import run_inspect, write_pipeline

ORDERED = """
print("module-level print must not corrupt the JSON")

@parameter("first", type=str, help="above @pipeline")
@pipeline(name="Ordered", timeout=600, retries=2, retry_delay=15)
@parameter("second", type=Secret)
@parameter("third", type=float, choices=[0.5, 1], default=1)
@parameter("fourth", type=Dataset, multiple=True, required=False)
@parameter("fifth", type=S3Connection)
def ordered(fifth, fourth, third, second, first):
    pass

if __name__ == "__main__":
    raise SystemExit("the __main__ block must not run")
"""


def test_prints_the_spec_with_parameters_top_to_bottom(tmp_path: Path) -> None:
    folder = write_pipeline(tmp_path, ORDERED)
    result = run_inspect(folder)
    assert result.returncode == 0, result.stderr
    spec = json.loads(result.stdout)
    assert {k: v for k, v in spec.items() if k != "parameters"} == {
        "name": "Ordered",
        "function": "ordered",
        "timeout": 600,
        "retries": 2,
        "retry_delay": 15.0,
    }
    assert [p["code"] for p in spec["parameters"]] == [
        "first",
        "second",
        "third",
        "fourth",
        "fifth",
    ]
    assert spec["parameters"][0] == {
        "code": "first",
        "type": "str",
        "name": "first",
        "help": "above @pipeline",
        "default": None,
        "choices": None,
        "multiple": False,
        "required": True,
    }
    third = spec["parameters"][2]
    assert (third["type"], third["choices"], third["default"]) == ("float", [0.5, 1.0], 1.0)
    fourth = spec["parameters"][3]
    assert (fourth["type"], fourth["multiple"], fourth["required"]) == ("dataset", True, False)
    assert [p["type"] for p in spec["parameters"]] == ["str", "secret", "float", "dataset", "s3"]
    assert "module-level print" in result.stderr


def test_defaults_to_the_current_folder(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "@pipeline\ndef bare():\n    pass\n")
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "joliba.sdk.inspect"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "name": "bare",
        "function": "bare",
        "timeout": None,
        "retries": 0,
        "retry_delay": 60.0,
        "parameters": [],
    }


def test_a_missing_pipeline_file(tmp_path: Path) -> None:
    result = run_inspect(tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == f"error: no pipeline.py in {tmp_path}\n"


def test_a_syntax_error(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "x = 1\ndef broken(:\n    pass\n", header=False)
    result = run_inspect(tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "error: cannot import pipeline.py: SyntaxError: invalid syntax (pipeline.py, line 2): "
        "def broken(:\n"
    )


def test_an_import_error_shows_the_last_traceback_lines(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "x = 1\nimport helpers_that_do_not_exist\n", header=False)
    result = run_inspect(tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(
        f"error: cannot load the pipeline in {tmp_path / 'pipeline.py'}: ModuleNotFoundError: "
        "No module named 'helpers_that_do_not_exist'"
    )
    assert 'pipeline.py", line 2, in <module>' in result.stderr
    assert "\n\n" not in result.stderr.strip()  # one paragraph


def test_helper_modules_next_to_the_pipeline_import(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("LABEL = 'from helpers'\n")
    write_pipeline(tmp_path, "import helpers\n\n@pipeline(helpers.LABEL)\ndef p():\n    pass\n")
    result = run_inspect(tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "from helpers"


def test_two_pipelines_or_none(tmp_path: Path) -> None:
    write_pipeline(
        tmp_path, "@pipeline()\ndef one():\n    pass\n\n@pipeline()\ndef two():\n    pass\n"
    )
    result = run_inspect(tmp_path)
    assert result.returncode == 2
    assert "defines several pipelines (one, two); keep one per folder" in result.stderr
    write_pipeline(tmp_path, "def plain():\n    pass\n")
    result = run_inspect(tmp_path)
    assert result.returncode == 2
    assert "defines no pipeline (decorate a function with @pipeline)" in result.stderr


def test_a_bad_parameter_spec(tmp_path: Path) -> None:
    cases = {
        '@parameter("n", type=int, default="ten")': "Invalid: parameter 'n': default: expects an "
        "integer, got 'ten'",
        '@parameter("n", type=list)': "TypeError: parameter 'n': unsupported type",
        '@parameter("n", type=bool, choices=[True])': "'n': choices: not allowed for bool",
        '@parameter("m", type=int)': "parameter 'm': the function run() has no argument 'm'",
    }
    for decorator, message in cases.items():
        write_pipeline(tmp_path, f"@pipeline()\n{decorator}\ndef run(n):\n    pass\n")
        result = run_inspect(tmp_path)
        assert result.returncode == 2, decorator
        assert message in result.stderr, (decorator, result.stderr)
        assert "pipeline.py" in result.stderr
    write_pipeline(tmp_path, '@pipeline()\n@parameter("n", type=int)\ndef run(n, m):\n    pass\n')
    result = run_inspect(tmp_path)
    assert result.returncode == 2
    assert result.stderr == (  # no traceback: the message says all
        "error: pipeline 'run': the arguments of run() must match its parameters; "
        "no @parameter for: m\n"
    )


PICKERS = """
@pipeline()
@parameter("source", type=DHIS2Connection)
@parameter("units", type=str, multiple=True, widget="dhis2.org_units", connection=LINK)
def pickers(source, units):
    pass
"""


def test_picker_widgets_are_in_the_spec_and_must_name_a_dhis2_parameter(tmp_path: Path) -> None:
    folder = write_pipeline(tmp_path, PICKERS.replace("LINK", '"source"'))
    result = run_inspect(folder)
    assert result.returncode == 0, result.stderr
    units = json.loads(result.stdout)["parameters"][1]
    assert (units["widget"], units["connection"]) == ("dhis2.org_units", "source")
    write_pipeline(tmp_path, PICKERS.replace("LINK", '"elsewhere"'))
    result = run_inspect(folder)
    assert result.returncode == 2
    assert result.stderr == (
        "error: parameter 'units': connection: no parameter 'elsewhere' "
        "(this pipeline has: source, units)\n"
    )
