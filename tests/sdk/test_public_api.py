"""The SDK's public surface: a curated ``__all__``, and an import that stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import joliba

PUBLIC = {
    "pipeline",
    "parameter",
    "task",
    "current_run",
    "workspace",
    "Secret",
    "File",
    "Dataset",
    "DHIS2Connection",
    "PostgreSQLConnection",
    "S3Connection",
    "CustomConnection",
    "__version__",
}

HEAVY = [
    "sqlalchemy",
    "fastapi",
    "starlette",
    "httpx",
    "polars",
    "pydantic",
    "yaml",
    "joliba.settings",
    "joliba.db",
    "joliba.dhis2",
]


def test_all_is_exactly_the_public_surface() -> None:
    assert set(joliba.__all__) == PUBLIC
    assert len(joliba.__all__) == len(PUBLIC)
    for name in joliba.__all__:
        assert hasattr(joliba, name)
    assert joliba.__version__ == "0.1.0"


def test_import_joliba_loads_no_server_code_or_third_party_packages() -> None:
    code = (
        "import joliba, sys, json; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []


def test_the_sdk_modules_import_no_server_code() -> None:
    code = (
        "import joliba.sdk.entry, joliba.sdk.inspect, joliba.sdk.local, sys, json; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) == []
