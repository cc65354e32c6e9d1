"""Fixtures of the page tests."""

from tests.fixtures.pages import pages, proxied_pages
from tests.fixtures.superset_worlds import ss_platform, ss_server, superset

__all__ = ["pages", "proxied_pages", "ss_platform", "ss_server", "superset"]
