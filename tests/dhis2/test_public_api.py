"""``joliba.dhis2``'s front door: the exact public names, each importable from the package and
the same object as in its home module, loaded only when used (a fresh interpreter shows what
an import costs), with no server code behind any of them."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

import joliba.dhis2

PUBLIC = [
    "DHIS2",
    "Chunks",
    "DHIS2Error",
    "DataValueSelection",
    "ExtractSummary",
    "ImportReport",
    "Lookup",
    "add_hierarchy",
    "add_names",
    "periods",
    "write_geoparquet",
]
HOMES = {
    "DHIS2": "joliba.dhis2.client",
    "Chunks": "joliba.dhis2.chunks",
    "DHIS2Error": "joliba.dhis2.http",
    "DataValueSelection": "joliba.dhis2.selection",
    "ExtractSummary": "joliba.dhis2.data_values",
    "ImportReport": "joliba.dhis2.imports",
    "Lookup": "joliba.dhis2.joins",
    "add_hierarchy": "joliba.dhis2.joins",
    "add_names": "joliba.dhis2.joins",
    "write_geoparquet": "joliba.dhis2.geo",
}
HEAVY = ["polars", "httpx", "duckdb", "pyarrow"]
SERVER = ["joliba.db", "joliba.services", "joliba.api", "joliba.web", "joliba.cli", "joliba.runner"]
SERVER += ["joliba.storage", "fastapi", "sqlalchemy"]


def test_the_public_names_are_exactly_these() -> None:
    assert joliba.dhis2.__all__ == PUBLIC
    assert set(PUBLIC) <= set(dir(joliba.dhis2))


def test_every_public_name_imports_and_is_its_home_modules_object() -> None:
    for name in PUBLIC:
        found = getattr(joliba.dhis2, name)
        if name == "periods":
            assert found is importlib.import_module("joliba.dhis2.periods")
        else:
            assert found is getattr(importlib.import_module(HOMES[name]), name), name
    from joliba.dhis2 import DHIS2, DataValueSelection, DHIS2Error, periods

    assert issubclass(DHIS2Error, Exception) and callable(periods.parse)
    assert DHIS2.__name__ == "DHIS2" and DataValueSelection.__name__ == "DataValueSelection"
    with pytest.raises(AttributeError, match="no attribute 'client_for'"):
        joliba.dhis2.client_for  # noqa: B018 (the look-up is the test)


def fresh(code: str) -> dict[str, bool]:
    """Run ``code`` in a new interpreter; which heavy and server modules it loaded."""
    watched = [*HEAVY, *SERVER]
    script = (
        f"{code}\nimport json, sys\nprint(json.dumps({{m: m in sys.modules for m in {watched!r}}}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True, timeout=120
    )
    loaded: dict[str, bool] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_light_names_do_not_load_the_heavy_libraries() -> None:
    for code in (
        "import joliba.dhis2",
        "from joliba.dhis2 import periods; periods.parse('2024W5')",
        "from joliba.dhis2 import DataValueSelection",
    ):
        loaded = fresh(code)
        assert not [m for m in HEAVY if loaded[m]], code
    assert fresh("from joliba.dhis2 import DHIS2Error")["polars"] is False


def test_the_whole_surface_loads_without_cycles_or_server_code() -> None:
    # a fresh interpreter each: an import cycle shows only in the first import of a module
    for name in PUBLIC:
        loaded = fresh(f"from joliba.dhis2 import {name}")
        assert not [m for m in SERVER if loaded[m]], name
    loaded = fresh("from joliba.dhis2 import *; DHIS2, write_geoparquet, add_names")
    assert not [m for m in SERVER if loaded[m]]
