"""Fixtures of the Superset tests."""

from tests.fixtures.superset_worlds import (
    ss_pages,
    ss_pg_platform,
    ss_pg_server,
    ss_pg_world,
    ss_platform,
    ss_server,
    ss_world,
    superset,
)

__all__ = [
    "ss_pages",
    "ss_pg_platform",
    "ss_pg_server",
    "ss_pg_world",
    "ss_platform",
    "ss_server",
    "ss_world",
    "superset",
]
