"""A DHIS2 emulator: a synthetic country served with DHIS2's Web API shapes, for tests and demos.

``create_app(seed=1, scale=1.0, version="2.39")`` is a Starlette application; ``joliba dhis2
emulator`` serves it. See docs/dhis2.md.
"""

from __future__ import annotations

from joliba.dhis2.emulator.app import create_app
from joliba.dhis2.emulator.auth import make_token
from joliba.dhis2.emulator.country import Country, build_country
from joliba.dhis2.emulator.faults import Faults
from joliba.dhis2.emulator.serve import running

__all__ = ["Country", "Faults", "build_country", "create_app", "make_token", "running"]
