"""Joliba: open data integration for public health.

This module is the SDK's public surface: what a ``pipeline.py`` imports. Importing it does
no work and only imports the standard library: no settings are read, no files or
connections are opened, and no server code is loaded.
"""

from __future__ import annotations

from joliba.sdk.context import current_run, workspace
from joliba.sdk.parameters import parameter
from joliba.sdk.pipeline import pipeline
from joliba.sdk.tasks import task
from joliba.sdk.types import (
    CustomConnection,
    Dataset,
    DHIS2Connection,
    File,
    PostgreSQLConnection,
    S3Connection,
    Secret,
)

__version__ = "0.1.0"

__all__ = [
    "CustomConnection",
    "DHIS2Connection",
    "Dataset",
    "File",
    "PostgreSQLConnection",
    "S3Connection",
    "Secret",
    "__version__",
    "current_run",
    "parameter",
    "pipeline",
    "task",
    "workspace",
]
