"""Every read of a dataset's content, each one use case: download, preview, query, export, diff.

The API and the pages call these and nothing else to read a dataset, so no read misses the
access log. Each function, in one call:

1. authorises ``Action.DATASET_READ`` in a unit of work and loads the rows the caller may
   read (``dataset_access.readable_file``: drafts only for the owning workspace; shares and
   dataset tokens see published versions), then ends that transaction;
2. does the work with no transaction open: DuckDB (:mod:`joliba.services.dataset_reads`),
   or, for a download, the stream of the stored bytes (read while it is sent);
3. records the read in the dataset's access log (a download: before its stream starts, in
   the transaction that loaded it; the others: in a short transaction once done).

A read the tables refuse (a bad query, a table that cannot be read) raises ``Invalid`` and
records nothing, as does a query stopped by its ``interrupt`` (its client went away).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from joliba.db.tables import Dataset, DatasetFile, DatasetVersion
from joliba.domain.errors import Invalid
from joliba.domain.permissions import Action
from joliba.services import dataset_access, dataset_reads, datasets, units
from joliba.services.actors import Actor
from joliba.services.dataset_access import ReadKind
from joliba.services.platform import Platform
from joliba.services.workspaces import Access
from joliba.storage.table_reads import Filter, Sort
from joliba.storage.tables import Interrupt


@dataclass(frozen=True)
class Source:
    """What a read read: the dataset as its reader names it, a version and (maybe) a file."""

    ref: str
    version: str  # the version's name
    number: int
    file: str = ""


def _source(access: Access, dataset: Dataset, version: DatasetVersion, file: str = "") -> Source:
    return Source(datasets.ref_of(access, dataset), version.name, version.number, file)


@dataclass(frozen=True)
class _Read:
    """A read under way: its rows are loaded and their transaction has ended."""

    platform: Platform
    access: Access
    dataset: Dataset
    source: Source

    def record(
        self,
        kind: ReadKind,
        *,
        version: str | None = None,
        rows: int | None = None,
        size: int | None = None,
    ) -> None:
        """The read's entry in the access log, in a short transaction of its own."""
        with self.platform.db.transaction() as tx:
            dataset_access.record(
                tx,
                self.access,
                self.dataset,
                kind=kind,
                version=version or self.source.version,
                file=self.source.file,
                rows=rows,
                size=size,
            )


def _file(
    platform: Platform, actor: Actor, ws: str, ref: str, version: str, name: str
) -> tuple[_Read, DatasetFile]:
    with units.work(platform.db, actor, ws, Action.DATASET_READ) as (session, access):
        dataset, chosen, row = dataset_access.readable_file(session, access, ref, version, name)
        return _Read(platform, access, dataset, _source(access, dataset, chosen, row.name)), row


@dataclass(frozen=True)
class Download:
    source: Source
    sha256: str
    size: int
    #: The stored bytes, read from storage as they are sent.
    chunks: Iterator[bytes]


def download(
    platform: Platform, actor: Actor, ws: str, ref: str, version: str, name: str
) -> Download:
    """File ``name`` of ``version`` as stored, recorded in the access log as its stream
    starts (no transaction stays open while it is sent)."""
    with units.work(platform.db, actor, ws, Action.DATASET_READ, write=True) as (
        session,
        access,
    ):
        dataset, chosen, row = dataset_access.readable_file(session, access, ref, version, name)
        dataset_access.record(
            session,
            access,
            dataset,
            kind=ReadKind.DOWNLOAD,
            version=chosen.name,
            file=row.name,
            size=row.size,
        )
        source, sha256, size = _source(access, dataset, chosen, row.name), row.sha256, row.size
    return Download(source, sha256, size, platform.store.blobs().read_chunks(sha256))


@dataclass(frozen=True)
class Rows:
    """Which rows of a table a preview shows."""

    offset: int = 0
    limit: int = 50
    sort: Sequence[Sort] = ()
    filters: Sequence[Filter] = ()


@dataclass(frozen=True)
class Preview:
    source: Source
    #: ``columns``, ``rows``, ``total`` (and whether the page was cut); None if the table
    #: could show none of the ``Rows`` asked for.
    page: dict[str, Any] | None
    #: Which of the ``Rows`` asked for the page shows.
    shown: int | None
    #: Why the first ``Rows`` could not be shown (a column the table lacks, a value of the
    #: wrong type), if it could not.
    problem: Invalid | None

    def answer(self) -> dict[str, Any]:
        """The page; if there is none, why (raised)."""
        if self.page is None:
            raise self.problem or Invalid("no rows were asked for")
        return self.page


def preview(
    platform: Platform,
    actor: Actor,
    ws: str,
    ref: str,
    version: str,
    name: str,
    asked: Sequence[Rows],
) -> Preview:
    """A page of table ``name``'s rows: the first of ``asked`` the table can show, the
    following ones being fallbacks (the pages drop a filter that does not fit). At most
    ``query_max_bytes`` of JSON. Raises ``Invalid`` if the file is not a table; logged only
    when a page is shown."""
    read, row = _file(platform, actor, ws, ref, version, name)
    dataset_reads.check_table(row)
    problem: Invalid | None = None
    for index, rows in enumerate(asked):
        try:
            page = dataset_reads.preview(
                platform.tables,
                row,
                offset=rows.offset,
                limit=rows.limit,
                sort=list(rows.sort),
                filters=list(rows.filters),
                max_bytes=platform.settings.query_max_bytes,
            )
        except Invalid as exc:
            problem = problem or exc
            continue
        read.record(ReadKind.PREVIEW, rows=len(page["rows"]))
        return Preview(read.source, page, index, problem)
    return Preview(read.source, None, None, problem)


@dataclass(frozen=True)
class MapRead:
    source: Source
    layer: dict[str, Any]


def map_layer(
    platform: Platform,
    actor: Actor,
    ws: str,
    ref: str,
    version: str,
    name: str,
    *,
    geometry: str = "",
    value: str = "",
    period: str = "",
    label: str = "",
    boundaries: Boundaries | None = None,
) -> MapRead:
    """Table ``name`` as a map layer: a GeoJSON feature per shape with its value per period
    (see ``storage/table_maps.py``), its shapes its own or, with ``boundaries``, those of
    another table matched on a key; logged as a map read (of both tables)."""
    read, row = _file(platform, actor, ws, ref, version, name)
    shapes: tuple[_Read, DatasetFile] | None = None
    joins: dict[str, str] = {}
    if boundaries is not None:
        shapes = _file(platform, actor, ws, boundaries.ref, boundaries.version, boundaries.file)
        joins = {"key": boundaries.key, "boundaries_key": boundaries.boundaries_key}
    layer = dataset_reads.map_layer(
        platform.tables,
        row,
        shapes[1] if shapes else None,
        geometry=geometry,
        value=value,
        period=period,
        label=label,
        **joins,
    )
    read.record(ReadKind.MAP, rows=len(layer["features"]))
    if shapes is not None:
        shapes[0].record(ReadKind.MAP, rows=len(layer["features"]))
    return MapRead(read.source, layer)


@dataclass(frozen=True)
class Boundaries:
    """A table of shapes (org units' boundaries) that a table without shapes is drawn with."""

    ref: str
    file: str
    key: str
    version: str = "latest"
    boundaries_key: str = ""


def _lowered(limit: int, wanted: int | None) -> int:
    return limit if wanted is None else min(limit, wanted)


@dataclass(frozen=True)
class Query:
    source: Source
    #: ``columns``, ``rows`` and whether (and by what) the answer was cut.
    result: dict[str, Any]
    #: The SQL names of the version's tables.
    tables: list[str]


def query(
    platform: Platform,
    actor: Actor,
    ws: str,
    ref: str,
    version: str,
    sql: str,
    *,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    interrupt: Interrupt | None = None,
) -> Query:
    """One read-only SELECT over ``version``'s tables, within ``query_timeout_seconds``,
    ``query_max_rows`` and ``query_max_bytes`` (or the lower ``max_rows``, ``max_bytes``).
    ``interrupt``, fired from another thread, stops it: it then raises ``Invalid`` and is
    not logged."""
    with units.work(platform.db, actor, ws, Action.DATASET_READ) as (session, access):
        dataset, (chosen,) = dataset_access.readable_versions(session, access, ref, version)
        files = list(datasets.files(session, chosen))
        read = _Read(platform, access, dataset, _source(access, dataset, chosen))
    settings = platform.settings
    result = dataset_reads.query(
        platform.tables,
        files,
        sql,
        max_rows=_lowered(settings.query_max_rows, max_rows),
        max_bytes=_lowered(settings.query_max_bytes, max_bytes),
        timeout=settings.query_timeout_seconds,
        interrupt=interrupt,
    )
    read.record(ReadKind.QUERY, rows=len(result["rows"]))
    return Query(read.source, result, list(dataset_reads.tables_of(files)))


@dataclass(frozen=True)
class Export:
    source: Source
    #: A temporary file: the caller removes it once sent.
    path: Path
    size: int
    rows: int


def export(
    platform: Platform, actor: Actor, ws: str, ref: str, version: str, name: str, fmt: str
) -> Export:
    """Table ``name`` written as ``fmt`` (one of ``dataset_reads.EXPORT_FORMATS``)."""
    read, row = _file(platform, actor, ws, ref, version, name)
    path, count = dataset_reads.export(platform.tables, row, fmt)
    try:
        size = path.stat().st_size
        read.record(ReadKind.EXPORT, rows=count, size=size)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Export(read.source, path, size, count)


@dataclass(frozen=True)
class Diff:
    old: Source
    new: Source
    #: Files ``added``, ``removed``, ``changed``, ``unchanged``; per changed table, ``tables``.
    result: dict[str, Any]


def diff(
    platform: Platform,
    actor: Actor,
    ws: str,
    ref: str,
    old: str,
    new: str,
    *,
    key: Sequence[str] = (),
) -> Diff:
    """What changed from version ``old`` to ``new``: files, tables' schema and rows, and
    rows by the ``key`` columns if given."""
    with units.work(platform.db, actor, ws, Action.DATASET_READ) as (session, access):
        dataset, (before, after) = dataset_access.readable_versions(session, access, ref, old, new)
        files = list(datasets.files(session, before)), list(datasets.files(session, after))
        read = _Read(platform, access, dataset, _source(access, dataset, before))
        later = _source(access, dataset, after)
    result = dataset_reads.diff(platform.tables, *files, key=list(key) or None)
    read.record(ReadKind.DIFF, version=f"{read.source.version} → {later.version}")
    return Diff(read.source, later, result)


def boundaries_of(
    ref: str, file: str, version: str, key: str, boundaries_key: str
) -> Boundaries | None:
    """The boundaries a map was asked to use, or None when no dataset was named."""
    if not ref:
        return None
    if not file:
        raise Invalid(
            "boundaries_file: name the table file of shapes", details={"field": "boundaries_file"}
        )
    return Boundaries(ref, file, key, version or "latest", boundaries_key)
