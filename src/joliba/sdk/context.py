"""The run context behind ``current_run`` and ``workspace``.

One :class:`RunContext` is active per process: the platform entry point or the local runner
sets it before the pipeline runs. Outside any run (a task called from a unit test) the first
use of ``current_run`` or ``workspace`` sets up a local context from ``workspace.yaml``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from joliba.domain.errors import Invalid
from joliba.domain.paths import clean_path, name_of
from joliba.domain.slugs import check_slug
from joliba.domain.wire import LogLevel, OutputKind
from joliba.sdk.events import LEVELS, EventWriter
from joliba.sdk.types import Connection, connection_from_json

if TYPE_CHECKING:
    from pathlib import Path

    from joliba.sdk.datasets import Datasets, DatasetVersion
    from joliba.sdk.tables import IfExists


@dataclass
class RunContext:
    """Everything a running pipeline can reach. ``connections`` holds the raw JSON objects."""

    events: EventWriter
    mode: str = "local"  # "local" | "platform"
    run_id: str | None = None
    workspace_slug: str = "local"
    files_path: str | None = None  # absolute; a str so `import joliba` needs no pathlib
    connections: Mapping[str, Any] = field(default_factory=dict)
    database_url: str | None = None
    log_level: int = LEVELS["info"]
    parameters: dict[str, Any] = field(default_factory=dict)
    server_url: str | None = None
    token: str | None = field(default=None, repr=False)  # the run token, for the server's API
    #: What the SDK builds on first use and keeps for the run (the datasets API client).
    cache: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Dataset outputs recorded so far: each is recorded once.
    dataset_outputs: set[str] = field(default_factory=set, repr=False)

    def log(self, level: LogLevel, message: object) -> None:
        if LEVELS[level] >= self.log_level:
            self.events.log(level, str(message))

    def record_output(self, kind: OutputKind, uri: str, name: str) -> None:
        """Emit an output event; a dataset output already recorded is not recorded again."""
        if kind == "dataset":
            if uri in self.dataset_outputs:
                return
            self.dataset_outputs.add(uri)
        self.events.output(kind, uri, name)

    def connection(self, slug: str) -> Connection:
        data = self.connections.get(slug)
        if data is None:
            known = ", ".join(sorted(self.connections)) or "none"
            raise ConnectionNotFound(
                f"no connection '{slug}' in workspace '{self.workspace_slug}' (known: {known})"
            )
        return connection_from_json(slug, data)


def workspace_relative(path: str | os.PathLike[str], files_path: str | None) -> str:
    """``path`` as the workspace path the platform stores (relative to the files folder).

    Absolute paths are accepted inside ``files_path``; anything that ends up outside it,
    through ``..`` or a symbolic link, is :class:`Invalid`.
    """
    raw = os.fspath(path) if isinstance(path, os.PathLike) else path
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("path: a path is required", details={"field": "path"})
    if not os.path.isabs(raw):
        clean = clean_path(raw)
        if files_path is None:  # no local folder (S3 storage): nothing to resolve
            return clean
        return clean_path(_check_inside(os.path.join(files_path, clean), files_path, raw))
    if files_path is None:
        raise Invalid(
            f"path: {raw} is absolute, but this run has no local workspace files folder: "
            "give it relative to the workspace's files",
            details={"field": "path", "path": raw},
        )
    return clean_path(_check_inside(raw, files_path, raw))


def _check_inside(target: str, files_path: str, raw: str) -> str:
    """``target``'s path below the files folder, its links followed (the server serves no
    links); Invalid if outside."""
    root = os.path.realpath(files_path)
    real = os.path.realpath(target)
    if real == root:
        raise Invalid(
            f"path: {raw} is the workspace files folder itself, not a file in it",
            details={"field": "path", "path": raw},
        )
    if os.path.commonpath([root, real]) != root:
        raise Invalid(
            f"path: {raw} is outside the workspace files folder ({files_path})",
            details={"field": "path", "path": raw},
        )
    return os.path.relpath(real, root)


class ConnectionNotFound(KeyError):
    """A connection slug the workspace does not have."""

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0])


_lock = threading.Lock()
_active: RunContext | None = None


def activate(context: RunContext) -> None:
    global _active
    with _lock:
        _active = context


def active() -> RunContext:
    """The current context, or a local one built on first use outside any run."""
    global _active
    context = _active
    if context is not None:  # the common case, without taking the lock
        return context
    with _lock:
        if _active is None:
            from joliba.sdk.local import default_context  # local mode only: may import yaml

            _active = default_context()
        return _active


def on_platform() -> bool:
    """Whether this process is a platform run (started by ``joliba.sdk.entry``)."""
    return _active is not None and _active.mode == "platform"


class CurrentRun:
    """``current_run``: logs, progress and outputs of the running pipeline; never blocks."""

    def log_debug(self, message: object) -> None:
        active().log("debug", message)

    def log_info(self, message: object) -> None:
        active().log("info", message)

    def log_warning(self, message: object) -> None:
        active().log("warning", message)

    def log_error(self, message: object) -> None:
        active().log("error", message)

    def progress(self, percent: int, message: str | None = None) -> None:
        if not isinstance(percent, int) or isinstance(percent, bool) or not 0 <= percent <= 100:
            raise ValueError(f"progress: percent must be an integer from 0 to 100, not {percent!r}")
        text = None if message is None else str(message)
        active().events.progress(percent, text)

    def add_file_output(self, path: str | os.PathLike[str]) -> None:
        """Record a workspace file as an output: a path relative to ``workspace.files_path``
        or an absolute one inside it (``workspace.files_path / "out.csv"``)."""
        clean = workspace_relative(path, active().files_path)
        active().events.output("file", clean, name_of(clean))

    def add_table_output(self, name: str) -> None:
        """Record a table of the workspace database as an output."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("add_table_output: a table name is required")
        active().events.output("table", name.strip(), name.strip())

    def add_dataset_output(
        self, slug: str, version: str | int | DatasetVersion | None = None
    ) -> None:
        """Record a dataset (optionally one version of it) as an output.

        ``slug`` may be a dataset shared from another workspace (``source-workspace.slug``)
        or a dataset object; versions made with ``create_version`` are recorded already.
        """
        slug = str(slug)
        for part in slug.split(".", 1):
            check_slug(part)
        number = getattr(version, "number", version)  # a DatasetVersion object, too
        uri = slug if number is None else f"{slug}@{number}"
        active().record_output("dataset", uri, slug)

    @property
    def run_id(self) -> str | None:
        """The platform's run id; ``None`` in local runs."""
        return active().run_id

    @property
    def parameters(self) -> dict[str, Any]:
        """The values the pipeline function received (a copy)."""
        return dict(active().parameters)

    def __repr__(self) -> str:
        return "<current_run>"


class Workspace:
    """``workspace``: the files folder, connections and database of the run's workspace."""

    @property
    def slug(self) -> str:
        return active().workspace_slug

    @property
    def files_path(self) -> Path:
        """The local folder of the workspace's files."""
        from pathlib import Path

        path = active().files_path
        if path is None:
            raise RuntimeError(
                "this run has no local workspace files folder (JOLIBA_FILES_PATH is not set)"
            )
        return Path(path)

    @property
    def database_url(self) -> str | None:
        return active().database_url

    def open(self, path: str, mode: str = "r", **kwargs: Any) -> IO[Any]:
        """Open a workspace file; writing creates missing parent folders."""
        target = self.files_path / clean_path(path)
        if any(flag in mode for flag in "wax+"):
            target.parent.mkdir(parents=True, exist_ok=True)
        return open(target, mode, **kwargs)

    def connection(self, slug: str) -> Connection:
        """The typed connection object for ``slug`` (``ConnectionNotFound`` when unknown)."""
        return active().connection(slug)

    def write_table(
        self,
        name: str,
        data: Any,
        *,
        if_exists: IfExists = "replace",
        key: str | Sequence[str] | None = None,
        geometry: str | Sequence[str] | None = None,
        srid: int | None = None,
    ) -> int:
        """Write ``data`` (a Polars, pandas or GeoPandas frame, a PyArrow table, a Parquet
        file's path) as table ``name`` of the workspace database, all or nothing; returns the
        number of rows. ``if_exists``: ``replace``, ``append``, ``upsert`` (with ``key``) or
        ``fail``. ``geometry``: columns of WKB, WKT or GeoJSON, stored as PostGIS geometry."""
        from joliba.sdk.tables import write_table

        return write_table(
            data,
            name,
            self.database_url,
            if_exists=if_exists,
            key=key,
            geometry=geometry,
            srid=srid,
        )

    @property
    def datasets(self) -> Datasets:
        """The workspace's datasets on the server: ``create``, ``get``, ``list``."""
        from joliba.sdk.datasets import Datasets

        return Datasets(active())

    def __repr__(self) -> str:
        return "<workspace>"


current_run = CurrentRun()
workspace = Workspace()
