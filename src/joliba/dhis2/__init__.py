"""DHIS2: a client to extract and push data, DHIS2 periods, and an emulator of DHIS2's Web API.

    from joliba.dhis2 import DHIS2, DataValueSelection, DHIS2Error, periods

Usable without a Joliba server (in pipelines, notebooks and scripts): nothing here imports
server code. The names below are the public surface; each is loaded when first used, so
``from joliba.dhis2 import periods`` (standard library only) does not pay for httpx, Polars
or DuckDB, and the emulator (``joliba.dhis2.emulator``) does not load the client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from joliba.dhis2 import periods
    from joliba.dhis2.chunks import Chunks
    from joliba.dhis2.client import DHIS2
    from joliba.dhis2.data_values import ExtractSummary
    from joliba.dhis2.geo import write_geoparquet
    from joliba.dhis2.http import DHIS2Error
    from joliba.dhis2.imports import ImportReport
    from joliba.dhis2.joins import Lookup, add_hierarchy, add_names
    from joliba.dhis2.selection import DataValueSelection

__all__ = [
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

# Where each public name lives (a module's own name means the module itself).
_HOMES = {
    "DHIS2": "joliba.dhis2.client",
    "Chunks": "joliba.dhis2.chunks",
    "DHIS2Error": "joliba.dhis2.http",
    "DataValueSelection": "joliba.dhis2.selection",
    "ExtractSummary": "joliba.dhis2.data_values",
    "ImportReport": "joliba.dhis2.imports",
    "Lookup": "joliba.dhis2.joins",
    "add_hierarchy": "joliba.dhis2.joins",
    "add_names": "joliba.dhis2.joins",
    "periods": "joliba.dhis2.periods",
    "write_geoparquet": "joliba.dhis2.geo",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module(home)
    value = module if home == f"{__name__}.{name}" else getattr(module, name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
