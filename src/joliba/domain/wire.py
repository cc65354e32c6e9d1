"""Shapes that cross a process boundary, written once for both sides (standard library only).

- **SDK events**: the JSON lines a run writes on the runner's pipe (``JOLIBA_EVENTS_FD``).
  The SDK builds them (:class:`joliba.sdk.events.EventWriter`), the runner reads them
  (:func:`joliba.runner.run_output.take_event`). Each kind is one TypedDict of :data:`Event`,
  tagged by its ``event`` key; a reader treats the fields as untrusted all the same (a
  pipeline can write anything on the pipe).
- **Datasets**: what the REST client (:mod:`joliba.client.datasets`, used by the SDK and the
  CLI) sends to and receives from ``/api/v1/workspaces/{ws}/datasets``. The server's own
  copies are the Pydantic models of :mod:`joliba.schemas.datasets`. Ids and times are text.
- **Connection types**: the ``type`` of a connection, in the API, in what the runner hands a
  run and as pipeline parameter types. Their fields, and which are secret, are
  :data:`joliba.domain.connections.FIELDS`.

``tests/test_wire_contracts.py`` checks each shape against the other side. ``import joliba``
imports this module, so it stays cheap: no ``from __future__ import annotations`` (string
annotations make every TypedDict field a compiled ForwardRef), nothing beyond ``enum`` and
``typing``.
"""

from enum import StrEnum
from typing import Any, Final, Generic, Literal, NotRequired, TypedDict, TypeVar, cast, get_args

# -- connection types -----------------------------------------------------------------------


class ConnectionType(StrEnum):
    DHIS2 = "dhis2"
    POSTGRESQL = "postgresql"
    S3 = "s3"
    CUSTOM = "custom"


#: What the server shows instead of a stored secret, and what a client sends back to keep
#: it; also what the SDK's reprs show instead of a secret value.
MASK: Final = "********"

# -- SDK events -----------------------------------------------------------------------------

#: The key that names an event's kind; every event also has ``at`` (ISO 8601, UTC).
EVENT: Final = "event"
LOG: Final = "log"
PROGRESS: Final = "progress"
OUTPUT: Final = "output"
TASK: Final = "task"

LogLevel = Literal["debug", "info", "warning", "error"]
OutputKind = Literal["file", "table", "dataset"]
TaskState = Literal["running", "retrying", "failed", "succeeded"]

LOG_LEVELS: tuple[LogLevel, ...] = get_args(LogLevel)
OUTPUT_KINDS: tuple[OutputKind, ...] = get_args(OutputKind)
TASK_STATES: tuple[TaskState, ...] = get_args(TaskState)


class LogEvent(TypedDict):
    """A ``current_run.log_*`` call (only those at or above the run's log level)."""

    event: Literal["log"]
    level: LogLevel
    message: str
    at: str


class ProgressEvent(TypedDict):
    """``current_run.progress``, or the share of a task graph done."""

    event: Literal["progress"]
    percent: int
    message: str | None
    at: str


class OutputEvent(TypedDict):
    """An output of the run: a workspace file, a table of the workspace database, or a
    dataset (``slug`` or ``slug@number``)."""

    event: Literal["output"]
    kind: OutputKind
    uri: str
    name: str
    at: str


class TaskEvent(TypedDict):
    """A task attempt changing state; ``id`` tells apart two calls of the same task."""

    event: Literal["task"]
    name: str
    state: TaskState
    attempt: int
    id: int
    at: str


Event = LogEvent | ProgressEvent | OutputEvent | TaskEvent

#: Each kind and its shape.
EVENT_SHAPES: Final[dict[str, type[Any]]] = {
    LOG: LogEvent,
    PROGRESS: ProgressEvent,
    OUTPUT: OutputEvent,
    TASK: TaskEvent,
}
EVENT_KINDS: Final = frozenset(EVENT_SHAPES)


def as_event(data: dict[str, Any]) -> Event | None:
    """``data`` (a decoded JSON line with an ``event`` key) as an event, or None when it is
    of a kind this side does not know. Only the kind is checked, not the fields."""
    if data.get(EVENT) not in EVENT_KINDS:
        return None
    return cast("Event", data)  # the tag says which shape it has


# -- datasets (answers and bodies of /api/v1/workspaces/{ws}/datasets) ----------------------

T = TypeVar("T")


class Page(TypedDict, Generic[T]):
    """One page of a list: ``?page=`` from 1, ``?page_size=`` up to the server's maximum."""

    items: list[T]
    page: int
    page_size: int
    total: int


class DatasetFileInfo(TypedDict):
    name: str
    sha256: str
    size: int
    #: parquet, csv, excel, json, geojson (tables) or file
    kind: str
    created_at: str


class VersionInfo(TypedDict):
    id: str
    number: int
    name: str
    changelog: str
    #: draft or published
    state: str
    #: Email of the person who made it.
    author: str | None
    #: Id of the pipeline run that made it.
    author_run: str | None
    created_at: str
    published_at: str | None
    #: Empty in a list of versions.
    files: list[DatasetFileInfo]


class DatasetInfo(TypedDict):
    id: str
    #: How the workspace names it: the slug, or ``source-workspace.slug`` when shared with it.
    ref: str
    #: The owning workspace.
    workspace: str
    #: Shared with this workspace by another (read-only here).
    shared: bool
    slug: str
    name: str
    description: str
    tags: list[str]
    created_at: str
    #: The newest published version.
    latest: VersionInfo | None


class UploadStateInfo(TypedDict):
    """How much of a broken upload the server kept (``GET …/files/{name}/upload``)."""

    received: int


class DatasetCreateBody(TypedDict):
    name: str
    slug: NotRequired[str | None]
    description: NotRequired[str]
    tags: NotRequired[list[str]]


class VersionCreateBody(TypedDict):
    #: Default: ``v<number>``.
    name: NotRequired[str]
    changelog: NotRequired[str]
