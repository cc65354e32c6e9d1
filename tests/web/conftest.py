"""Fixtures of the page tests."""

from tests.fixtures.pages import pages, proxied_pages

__all__ = ["pages", "proxied_pages"]
