"""``@pipeline``, ``@parameter`` and ``@task`` at decoration time (no run involved)."""

from __future__ import annotations

from typing import Any

import pytest

from joliba import (
    CustomConnection,
    Dataset,
    DHIS2Connection,
    File,
    PostgreSQLConnection,
    S3Connection,
    Secret,
    parameter,
    pipeline,
    task,
)
from joliba.domain.errors import Invalid
from joliba.sdk.pipeline import Pipeline
from joliba.sdk.tasks import Task


def test_the_spec_reads_top_to_bottom_whatever_the_order() -> None:
    @parameter("a", type=str)
    @pipeline("Mixed", timeout=10)
    @parameter("b", type=int, default=1)
    @parameter("c", type=bool, default=False)
    def mixed(c: bool, b: int, a: str) -> None:
        pass

    assert isinstance(mixed, Pipeline)
    spec = mixed.spec()
    assert [p["code"] for p in spec["parameters"]] == ["a", "b", "c"]
    assert spec["name"] == "Mixed" and spec["timeout"] == 10 and spec["function"] == "mixed"


@pytest.mark.parametrize(
    ("python_type", "spec_type"),
    [
        (str, "str"),
        (int, "int"),
        (float, "float"),
        (bool, "bool"),
        (Secret, "secret"),
        (File, "file"),
        (Dataset, "dataset"),
        (DHIS2Connection, "dhis2"),
        (PostgreSQLConnection, "postgresql"),
        (S3Connection, "s3"),
        (CustomConnection, "custom"),
    ],
)
def test_python_types_map_to_spec_types(python_type: Any, spec_type: str) -> None:
    @pipeline()
    @parameter("value", type=python_type, required=False)
    def typed(value: Any) -> None:
        pass

    assert typed.spec()["parameters"][0]["type"] == spec_type


def test_an_unsupported_type_is_refused_at_decoration() -> None:
    with pytest.raises(TypeError, match=r"parameter 'when': unsupported type <class 'dict'>"):
        parameter("when", type=dict)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": int, "default": 1.5}, "parameter 'x': default: expects an integer, got 1.5"),
        ({"type": str, "choices": ["a"], "default": "b"}, "parameter 'x': default: 'b' is not one"),
        ({"type": bool, "choices": [True, False]}, "parameter 'x': choices: not allowed for bool"),
        ({"type": DHIS2Connection, "choices": ["a"]}, "choices: not allowed for dhis2"),
        ({"type": Secret, "default": "pw"}, "parameter 'x': default: secret parameters may not"),
        ({"type": int, "multiple": True, "default": 3}, "default: must be a list"),
        ({"type": File, "default": "../etc/passwd"}, "parameter 'x': default: '..' segments"),
        ({"type": int, "name": ""}, "parameter 'x': name: 1 to 200 characters"),
        ({"type": int, "choices": []}, "parameter 'x': choices: must be a non-empty list"),
    ],
)
def test_bad_specs_are_refused_at_decoration(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(Invalid) as caught:
        parameter("x", **kwargs)
    assert message in str(caught.value)
    assert caught.value.details["parameter"] == "x"


def test_a_bad_code_is_refused() -> None:
    for code in ("1st", "with-dash", "class", "", "x" * 65):
        with pytest.raises(Invalid, match="code: a Python identifier"):
            parameter(code, type=int)


def test_parameter_codes_must_match_the_arguments() -> None:
    with pytest.raises(TypeError, match=r"parameter 'y': the function f\(\) has no argument 'y'"):

        @pipeline()
        @parameter("y", type=int)
        def f(x: int) -> None:
            pass

    @pipeline()
    @parameter("x", type=int)
    def g(x: int, extra: int) -> None:
        pass

    with pytest.raises(TypeError, match="no @parameter for: extra"):
        g.spec()

    with pytest.raises(TypeError, match=r"no \*args, \*\*kwargs"):

        @pipeline()
        def h(**kwargs: Any) -> None:
            pass


def test_a_parameter_declared_twice() -> None:
    with pytest.raises(ValueError, match="parameter 'x': declared twice"):

        @pipeline()
        @parameter("x", type=int)
        @parameter("x", type=str)
        def f(x: int) -> None:
            pass


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": -1}, "timeout must be a positive number of seconds"),
        ({"timeout": 1.5}, "timeout must be a positive number of seconds"),
        ({"retries": -1}, "retries must be an integer >= 0"),
        ({"retry_delay": -2}, "retry_delay must be >= 0"),
    ],
)
def test_bad_pipeline_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):

        @pipeline("p", **kwargs)
        def p() -> None:
            pass


def test_task_bare_and_with_arguments() -> None:
    @task
    def plain(x: int) -> int:
        """Doubles."""
        return 2 * x

    @task(retries=2, retry_delay=0.5, name="renamed")
    def configured(x: int) -> int:
        return x + 1

    assert isinstance(plain, Task) and isinstance(configured, Task)
    assert (plain.name, plain.retries, plain.__doc__) == ("plain", 0, "Doubles.")
    assert (configured.name, configured.retries, configured.retry_delay) == ("renamed", 2, 0.5)
    # Outside a run a task is just its function.
    assert plain(4) == 8 and configured(1) == 2
    with pytest.raises(ValueError, match="retries must be an integer >= 0"):
        task(retries=-1)(lambda: None)
