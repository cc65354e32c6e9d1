"""Joliba: open data integration for public health.

This module is the SDK's public surface; it grows with the pipelines feature. Importing it
does no work: no settings are read and no files or connections are opened.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
