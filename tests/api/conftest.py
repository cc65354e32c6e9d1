"""Fixtures of the API tests: the permission walk also walks the dashboard endpoints beside
a real Superset."""

from tests.fixtures.superset_worlds import ss_platform, ss_server, ss_world, superset

__all__ = ["ss_platform", "ss_server", "ss_world", "superset"]
