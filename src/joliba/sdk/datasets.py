"""``workspace.datasets``: the workspace's datasets on the server, from a pipeline.

On the platform a run reaches the server with ``JOLIBA_SERVER_URL`` and its run token (the
server records the run as the author of the versions it makes). In a local run the server is
the CLI's (``JOLIBA_URL`` and ``JOLIBA_TOKEN``, or what ``joliba login`` saved) and the
workspace is ``JOLIBA_WORKSPACE`` or the ``slug`` of ``workspace.yaml``.

Importing this module imports only the standard library; httpx comes with the first call
that talks to the server, polars or pandas with the first table read.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import importlib.util
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from joliba.sdk import types

if TYPE_CHECKING:
    from joliba.client.datasets import DatasetsApi
    from joliba.domain.wire import DatasetFileInfo, DatasetInfo, VersionInfo
    from joliba.sdk.context import RunContext

__all__ = [
    "Dataset",
    "DatasetError",
    "DatasetFile",
    "DatasetNotFound",
    "DatasetVersion",
    "Datasets",
    "DatasetsUnavailable",
]

_CACHE_KEY = "datasets_api"
_lock = threading.Lock()
_LOGIN_HINT = (
    "log in with 'joliba login --url URL --token TOKEN' (or set JOLIBA_URL and JOLIBA_TOKEN) "
    "and name the server's workspace with 'slug:' in workspace.yaml or JOLIBA_WORKSPACE"
)


class DatasetError(Exception):
    """The server refused or could not be reached; ``status`` is 0 when nothing answered."""

    def __init__(self, message: str, *, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class DatasetNotFound(DatasetError, LookupError):
    """No such dataset, version or file (or not one this run may see)."""


class DatasetsUnavailable(DatasetError, RuntimeError):
    """Datasets live on a server, and this run has none to talk to."""


@contextlib.contextmanager
def _translated() -> Iterator[None]:
    from joliba.client.api import ApiError

    try:
        yield
    except ApiError as exc:
        kind = DatasetNotFound if exc.status == 404 else DatasetError
        raise kind(exc.message, status=exc.status, code=exc.code) from None


def api_of(context: RunContext) -> DatasetsApi:
    """The run's client for the datasets API, built on first use and kept on the context."""
    cached: DatasetsApi | None = context.cache.get(_CACHE_KEY)
    if cached is not None:
        return cached
    with _lock:
        cached = context.cache.get(_CACHE_KEY)
        if cached is None:
            cached = _connect(context)
            context.cache[_CACHE_KEY] = cached
        return cached


def _connect(context: RunContext) -> DatasetsApi:
    from joliba.client import credentials
    from joliba.client.api import Client
    from joliba.client.datasets import DatasetsApi

    if context.mode == "platform":
        if not (context.server_url and context.token):
            raise DatasetsUnavailable(
                "datasets need the Joliba server, and this run was given no address or token "
                "(JOLIBA_SERVER_URL, JOLIBA_RUN_TOKEN)"
            )
        url, token, workspace = context.server_url, context.token, context.workspace_slug
    else:
        try:
            saved = credentials.load()
        except credentials.NotLoggedIn:
            raise DatasetsUnavailable(
                f"datasets live on a Joliba server and this local run has none: {_LOGIN_HINT}"
            ) from None
        workspace = os.environ.get("JOLIBA_WORKSPACE", "").strip() or context.workspace_slug
        if not workspace or workspace == "local":
            raise DatasetsUnavailable(
                f"datasets live in a workspace of {saved.url}; say which: set 'slug:' in "
                "workspace.yaml or JOLIBA_WORKSPACE"
            )
        url, token = saved.url, saved.token
    return DatasetsApi(Client(url, token, user_agent="joliba-sdk"), workspace)


class Datasets:
    """``workspace.datasets``: create, find and list the workspace's datasets."""

    def __init__(self, context: RunContext) -> None:
        self._context = context

    @property
    def _api(self) -> DatasetsApi:
        return api_of(self._context)

    def create(
        self,
        name: str,
        slug: str | None = None,
        description: str = "",
        tags: Iterable[str] = (),
    ) -> Dataset:
        """A new dataset (its slug made from ``name`` unless given)."""
        if isinstance(tags, str):
            tags = [tags]
        with _translated():
            data = self._api.create(name, slug=slug, description=description, tags=tags)
        return Dataset(data["ref"], self._context, data)

    def get(self, slug: str) -> Dataset:
        """A dataset of the workspace, or one shared with it (``source-workspace.slug``)."""
        with _translated():
            data = self._api.get(slug)
        return Dataset(slug, self._context, data)

    def list(self, search: str = "", tag: str = "") -> builtins.list[Dataset]:
        """The workspace's datasets, by slug."""
        with _translated():
            found = self._api.list_datasets(search=search, tag=tag)
        return [Dataset(d["ref"], self._context, d) for d in found]

    def __repr__(self) -> str:
        return "<workspace.datasets>"


class Dataset(types.Dataset):
    """A dataset on the server. It is also its slug (a ``str``), as a parameter value was.

    ``slug``, ``name``, ``description`` and ``tags`` are read once; ``latest`` and
    ``versions`` ask the server each time, so they see versions made since.
    """

    _context: RunContext
    _data: DatasetInfo | None

    def __new__(cls, ref: str, context: RunContext, data: DatasetInfo | None = None) -> Dataset:
        self = super().__new__(cls, ref)
        self._context = context
        self._data = data
        return self

    def _info(self) -> DatasetInfo:
        data = self._data
        if data is None:
            with _translated():
                data = self._data = api_of(self._context).get(str(self))
        return data

    @property
    def slug(self) -> str:
        return self._info()["slug"]

    @property
    def workspace(self) -> str:
        """The workspace that owns it."""
        return self._info()["workspace"]

    @property
    def shared(self) -> bool:
        """Whether another workspace shares it with this one (then it is read-only here)."""
        return self._info()["shared"]

    @property
    def name(self) -> str:
        return self._info()["name"]

    @property
    def description(self) -> str:
        return self._info()["description"]

    @property
    def tags(self) -> list[str]:
        return list(self._info()["tags"])

    @property
    def latest(self) -> DatasetVersion | None:
        """The newest published version, or None."""
        try:
            return self.version("latest")
        except DatasetNotFound:
            self._info()  # a missing dataset is an error, not "no version yet"
            return None

    @property
    def versions(self) -> list[DatasetVersion]:
        """Every version, newest first, drafts included (see ``DatasetVersion.state``)."""
        with _translated():
            found = api_of(self._context).list_versions(str(self))
        return [DatasetVersion(self, v, with_files=False) for v in found]

    def version(self, ref: str | int) -> DatasetVersion:
        """A version by number, by name, or ``"latest"``."""
        with _translated():
            data = api_of(self._context).get_version(str(self), ref)
        return DatasetVersion(self, data, with_files=True)

    def create_version(
        self,
        name: str = "",
        files: Sequence[str | os.PathLike[str]] = (),
        changelog: str = "",
    ) -> DatasetVersion:
        """Upload ``files`` (paths) as a new version and publish it; return the version.

        The version is named ``name`` (default ``v<number>``); each file keeps its name. If
        an upload fails the version stays an unpublished draft and the error says which.
        The version is recorded as an output of the run.
        """
        paths = _check_files(files)
        if self.shared:
            raise DatasetError(
                f"dataset '{self}' is shared by workspace '{self.workspace}' and is read-only "
                "here: make versions in its own workspace",
                code="read_only",
            )
        api = api_of(self._context)
        with _translated():
            draft = api.create_version(str(self), name=name, changelog=changelog)
        label = f"version '{draft['name']}' of dataset '{self}'"
        try:
            with _translated():
                for path in paths:
                    api.upload_file(str(self), draft["number"], path)
                published = api.publish(str(self), draft["number"])
        except DatasetError as exc:
            raise type(exc)(
                f"{label} stays an unpublished draft: {exc.message}",
                status=exc.status,
                code=exc.code,
            ) from None
        except OSError as exc:
            raise DatasetError(f"{label} stays an unpublished draft: {exc}") from exc
        self._context.record_output("dataset", f"{self}@{published['number']}", str(self))
        self._context.log("info", f"published {label} ({len(paths)} file(s))")
        return DatasetVersion(self, published, with_files=True)

    def refresh(self) -> Dataset:
        """Read the name, description and tags again."""
        self._data = None
        self._info()
        return self

    def __repr__(self) -> str:
        return f"<Dataset {str(self)!r}>"

    def __reduce__(self) -> Any:  # a pickled dataset is its slug: a context cannot travel
        return (str, (str(self),))


def _check_files(files: Sequence[str | os.PathLike[str]]) -> list[Path]:
    if isinstance(files, str | os.PathLike):
        files = [files]
    paths = [Path(f) for f in files]
    if not paths:
        raise ValueError("create_version: give at least one file (files=[path, ...])")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"create_version: not files: {', '.join(missing)}")
    names = [p.name for p in paths]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"create_version: two files are named {', '.join(twice)}")
    return paths


class DatasetVersion:
    """One version of a dataset: ``number``, ``name``, ``changelog``, ``state``, ``files``."""

    def __init__(self, dataset: Dataset, data: VersionInfo, *, with_files: bool) -> None:
        self.dataset = dataset
        self._data = data
        self._files = list(data["files"]) if with_files else None

    @property
    def number(self) -> int:
        return self._data["number"]

    @property
    def name(self) -> str:
        return self._data["name"]

    @property
    def changelog(self) -> str:
        return self._data["changelog"]

    @property
    def state(self) -> str:
        """``"draft"`` or ``"published"``."""
        return self._data["state"]

    @property
    def author(self) -> str | None:
        """Email of the person who made it (who started the run, for a run's version)."""
        return self._data["author"]

    @property
    def author_run(self) -> str | None:
        """Id of the pipeline run that made it, or None."""
        return self._data["author_run"]

    @property
    def created_at(self) -> str:
        return self._data["created_at"]

    @property
    def published_at(self) -> str | None:
        return self._data["published_at"]

    @property
    def files(self) -> list[DatasetFile]:
        if self._files is None:
            with _translated():
                data = api_of(self.dataset._context).get_version(str(self.dataset), self.number)
            self._files = list(data["files"])
        return [DatasetFile(self, f) for f in self._files]

    def file(self, name: str) -> DatasetFile:
        """The file called ``name`` (``DatasetNotFound`` lists the others)."""
        files = self.files
        for found in files:
            if found.name == name:
                return found
        known = ", ".join(f.name for f in files) or "none"
        raise DatasetNotFound(
            f"version '{self.name}' of dataset '{self.dataset}' has no file '{name}' "
            f"(files: {known})",
            status=404,
        )

    def download(self, folder: str | os.PathLike[str]) -> list[Path]:
        """Download every file into ``folder`` (created if needed); their paths."""
        return [f.download(Path(folder) / f.name) for f in self.files]

    def __repr__(self) -> str:
        return f"<DatasetVersion {str(self.dataset)!r} {self.name!r} ({self.state})>"


#: Extensions read as tables, and how.
_READERS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".xlsx": "excel",
    ".xls": "excel",
    ".json": "json",
    ".geojson": "geojson",
}


class DatasetFile:
    """A file of a version: ``name``, ``size``, ``sha256``, ``kind``; read or download it."""

    def __init__(self, version: DatasetVersion, data: DatasetFileInfo) -> None:
        self.version = version
        self.name: str = data["name"]
        self.size: int = data["size"]
        self.sha256: str = data["sha256"]
        self.kind: str = data["kind"]

    def download(self, path: str | os.PathLike[str]) -> Path:
        """Save the file at ``path`` (or inside it, when it is a folder); the path written.

        The content is checked against its SHA-256; a failed download leaves nothing.
        """
        target = Path(path)
        if target.is_dir():
            target = target / self.name
        dataset = self.version.dataset
        with _translated():
            return api_of(dataset._context).download_file(
                str(dataset), self.version.number, self.name, target, sha256=self.sha256
            )

    def read_polars(self, **options: Any) -> Any:
        """The file as a ``polars.DataFrame``; ``options`` go to polars' reader."""
        return self._read("polars", options)

    def read_pandas(self, **options: Any) -> Any:
        """The file as a ``pandas.DataFrame``; ``options`` go to pandas' reader."""
        return self._read("pandas", options)

    def _read(self, library: str, options: dict[str, Any]) -> Any:
        suffix = Path(self.name).suffix.lower()
        reader = _READERS.get(suffix)
        if reader is None:
            known = ", ".join(_READERS)
            raise ValueError(f"'{self.name}' is not a table file ({known}); use download()")
        module = _library(library, self.name)
        with tempfile.TemporaryDirectory(prefix="joliba-dataset-") as scratch:
            path = self.download(Path(scratch) / f"file{suffix}")
            try:
                return _READ[library](module, reader, path, suffix, options)
            except ImportError as exc:  # an engine the library needs (pyarrow, openpyxl…)
                raise ImportError(
                    f"reading '{self.name}' with {library} needs another package: {exc}"
                ) from exc

    def __repr__(self) -> str:
        return f"<DatasetFile {self.name!r} {self.size} bytes>"


def _library(name: str, file: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ImportError(
            f"reading '{file}' needs {name}, which is not installed: add '{name}' to the "
            f"pipeline's requirements.txt (or 'pip install {name}')"
        ) from None


def _properties(path: Path) -> list[dict[str, Any]]:
    """The ``properties`` of a GeoJSON file's features, one dict per feature."""
    import json

    data = json.loads(path.read_text(encoding="utf-8"))
    features = data.get("features") if isinstance(data, dict) else None
    if not isinstance(features, list):
        raise ValueError(f"{path.name}: not a GeoJSON FeatureCollection")
    return [dict(f.get("properties") or {}) for f in features if isinstance(f, dict)]


def _read_polars(pl: Any, reader: str, path: Path, suffix: str, options: dict[str, Any]) -> Any:
    if reader == "parquet":
        return pl.read_parquet(path, **options)
    if reader == "csv":
        return pl.read_csv(path, **options)
    if reader == "json":
        return pl.read_json(path, **options)
    if reader == "geojson":
        return pl.from_dicts(_properties(path), infer_schema_length=None, **options)
    # polars' default Excel engine needs fastexcel; openpyxl reads .xlsx without it.
    if suffix == ".xlsx" and importlib.util.find_spec("fastexcel") is None:
        options.setdefault("engine", "openpyxl")
    return pl.read_excel(path, **options)


def _read_pandas(pd: Any, reader: str, path: Path, suffix: str, options: dict[str, Any]) -> Any:
    if reader == "parquet":
        return pd.read_parquet(path, **options)
    if reader == "csv":
        return pd.read_csv(path, **options)
    if reader == "json":
        return pd.read_json(path, **options)
    if reader == "geojson":
        return pd.DataFrame.from_records(_properties(path), **options)
    if suffix == ".xlsx" and importlib.util.find_spec("openpyxl") is not None:
        options.setdefault("engine", "openpyxl")  # pandas' default engine is changing
    return pd.read_excel(path, **options)


_READ = {"polars": _read_polars, "pandas": _read_pandas}


def bind_dataset(code: str, ref: str, context: RunContext) -> Dataset:
    """The value of a ``Dataset`` parameter: the dataset, looked up now.

    A wrong slug fails the run before it starts, naming the parameter. In a local run with
    no server, the dataset is looked up on first use instead (and still works as its slug).
    """
    from joliba.domain.errors import Invalid

    try:
        api_of(context)
    except DatasetsUnavailable as exc:
        if context.mode == "local":
            return Dataset(ref, context)
        raise Invalid(f"parameter '{code}': {exc.message}", details={"parameter": code}) from None
    dataset = Dataset(ref, context)
    try:
        dataset.refresh()
    except DatasetNotFound:
        raise Invalid(
            f"parameter '{code}': no dataset '{ref}' in workspace '{api_of(context).workspace}'",
            details={"parameter": code},
        ) from None
    except DatasetError as exc:
        raise Invalid(
            f"parameter '{code}': cannot look up dataset '{ref}': {exc.message}",
            details={"parameter": code},
        ) from None
    return dataset
