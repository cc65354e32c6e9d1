"""Dataset tables as DuckDB reads them: a local Parquet copy of each table file, and
connections limited in memory, threads and (for user SQL) the files they may touch.

Every recognised format (CSV, JSON, GeoJSON, Excel) is converted once to Parquet under
``runtime/tables/<sha256>.parquet``, keyed by content, so the same content in two versions
or workspaces is converted once and every later read (profile, preview, query, export,
diff) scans columnar data. A Parquet blob in a local object store is read where it lies.
Conversions write to a temporary name and rename, so a crash leaves no half file.

Every reading runs on a connection of its own (:meth:`TableCache.reading`) that spills to a
private folder made for it and removed when it ends (see :mod:`joliba.storage.spill`), and
that another thread can stop (:class:`Interrupt`).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import duckdb

from joliba.storage import spill
from joliba.storage.blobs import BlobStore

#: Once fired, an interrupt is repeated this often (seconds) until its reading ends.
INTERRUPT_REPEAT = 0.02


class TableError(Exception):
    """A file that cannot be read as a table, or a query that cannot run; says why."""


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 512
    threads: int = 2


def connect(limits: Limits, spill_dir: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with bounded memory that spills to ``spill_dir``; no extension
    is ever installed or loaded on the fly (only those built in: Parquet, JSON)."""
    spill_dir.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        config={
            "memory_limit": f"{limits.memory_mb}MB",
            "threads": str(max(1, limits.threads)),
            "temp_directory": str(spill_dir),
            "autoinstall_known_extensions": "false",
            "autoload_known_extensions": "false",
        }
    )


def lock_down(con: duckdb.DuckDBPyConnection, paths: list[str]) -> None:
    """From now on the connection reads only ``paths``: no other file, no network, no
    setting changed back. DuckDB still lets it reach its own spill folder (it adds its
    ``temp_directory`` to ``allowed_directories``), which is private to this connection;
    user SQL is kept from reading it by ``table_reads.check_reads``."""
    con.execute("SET allowed_paths = ?", [paths])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(path: str) -> str:
    return "'" + path.replace("'", "''") + "'"


class Interruptible(Protocol):
    """A connection another thread can stop: DuckDB's and sqlite3's have ``interrupt``."""

    def interrupt(self) -> None: ...


class Interrupt:
    """Stops one reading from another thread: a time limit, a client that went away.

    DuckDB forgets an interrupt that arrives between two statements (or before the first),
    so once fired this interrupts the reading's connection again every
    :data:`INTERRUPT_REPEAT` seconds until the reading ends. ``reason`` completes "the
    query …" in the error the reading raises.
    """

    def __init__(self) -> None:
        self.reason = ""
        self._lock = threading.Lock()
        self._con: Interruptible | None = None
        self._ended = threading.Event()

    def fire(self, reason: str) -> None:
        with self._lock:
            if self.reason:
                return
            self.reason = reason
            attached = self._con is not None
        if attached:
            self._start()

    def attach(self, con: Interruptible) -> None:
        with self._lock:
            self._con = con
            self._ended.clear()
            pending = bool(self.reason)
        if pending:
            self._start()

    def detach(self) -> None:
        with self._lock:
            self._con = None
            self._ended.set()

    def _start(self) -> None:
        threading.Thread(target=self._repeat, name="joliba-interrupt", daemon=True).start()

    def _repeat(self) -> None:
        while True:
            with self._lock:
                if self._con is None:
                    return
                self._con.interrupt()
            if self._ended.wait(INTERRUPT_REPEAT):
                return


class TableCache:
    """Local Parquet copies of table files, made on first use, and the connections that
    read them."""

    def __init__(self, blobs: BlobStore, root: Path, limits: Limits) -> None:
        self.blobs = blobs
        self.root = root
        self.limits = limits
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._running: dict[Path, str] = {}

    @property
    def spill_root(self) -> Path:
        return self.root / "spill"

    def _lock(self, sha256: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(sha256, threading.Lock())

    @contextmanager
    def reading(
        self, kind: str, interrupt: Interrupt | None = None
    ) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection for one reading (``kind``: profile, preview, query, export, diff,
        convert) that spills to a private folder of its own, closed and its folder removed
        when the block ends, even on error or interrupt. ``interrupt`` can stop it."""
        with spill.private_folder(self.spill_root) as folder:
            con = connect(self.limits, folder)
            with self._guard:
                self._running[folder] = kind
            if interrupt is not None:
                interrupt.attach(con)
            try:
                yield con
            finally:
                if interrupt is not None:
                    interrupt.detach()
                con.close()
                with self._guard:
                    self._running.pop(folder, None)

    def sweep(self) -> int:
        """Remove the spill folders a crashed server left (a day old, not in use)."""
        return spill.sweep(self.spill_root, keep=set(self.running()))

    def running(self, kind: str | None = None) -> list[Path]:
        """The spill folders of the readings running now (of ``kind``, if given)."""
        with self._guard:
            return [f for f, k in self._running.items() if kind is None or k == kind]

    def parquet(self, sha256: str, kind: str) -> Path:
        """The Parquet file holding table ``sha256`` (converted now if it is not yet)."""
        if kind == "parquet" and self.blobs.is_local:
            return Path(self.blobs.path(sha256))
        target = self.root / f"{sha256}.parquet"
        if target.exists():
            return target
        with self._lock(sha256):
            if target.exists():
                return target
            self.root.mkdir(parents=True, exist_ok=True)
            with self._local_copy(sha256, kind) as source:
                partial = self.root / f".{sha256}.{uuid.uuid4().hex}.parquet"
                try:
                    convert(self, source, kind, partial)
                    partial.rename(target)
                finally:
                    partial.unlink(missing_ok=True)
        return target

    @contextmanager
    def _local_copy(self, sha256: str, kind: str) -> Iterator[Path]:
        """The blob as a local file (itself when the store is a local folder)."""
        if self.blobs.is_local:
            yield Path(self.blobs.path(sha256))
            return
        download = self.root / f".{sha256}.{uuid.uuid4().hex}.download"
        try:
            with download.open("wb") as handle:
                for chunk in self.blobs.read_chunks(sha256):
                    handle.write(chunk)
            yield download
        finally:
            download.unlink(missing_ok=True)


def convert(cache: TableCache, source: Path, kind: str, target: Path) -> None:
    """Write table ``source`` of ``kind`` as Parquet at ``target``."""
    if kind == "excel":
        _excel_to_parquet(source, target)
        return
    if kind == "geojson":  # DuckDB knows GeoJSON by its extension: read through a link
        link = target.with_name(target.name + ".geojson")
        link.symlink_to(source)
        try:
            _copy_to_parquet(cache, link, kind, target)
        finally:
            link.unlink(missing_ok=True)
    else:
        _copy_to_parquet(cache, source, kind, target)


def _copy_to_parquet(cache: TableCache, source: Path, kind: str, target: Path) -> None:
    # A GeoJSON document is one object; a JSON file holds one record per object.
    largest = source.stat().st_size + 1 if kind == "geojson" else 64 * 1024 * 1024
    reader = {
        "parquet": "read_parquet({})",
        "csv": "read_csv({}, sample_size = 100000)",
        "json": "read_json({}, maximum_object_size = {})",
        "geojson": "read_json({}, maximum_object_size = {})",
    }[kind].format(literal(str(source)), largest)
    with cache.reading("convert") as con:
        _copy(con, reader, kind, target)


def _copy(con: duckdb.DuckDBPyConnection, reader: str, kind: str, target: Path) -> None:
    try:
        con.execute(f"CREATE VIEW source AS SELECT * FROM {reader}")
        # GeoJSON features come as rows with a GEOMETRY column: kept as GeoJSON text, which
        # every later reader (preview, CSV, Excel) can show.
        shapes = [name for name, type_ in _describe(con, "source") if type_ == "GEOMETRY"]
        replace = ", ".join(f"ST_AsGeoJSON({quote(n)})::VARCHAR AS {quote(n)}" for n in shapes)
        select = f"SELECT * REPLACE ({replace}) FROM source" if shapes else "SELECT * FROM source"
        con.execute(
            f"COPY ({select}) TO {literal(str(target))} "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 122880)"
        )
    except duckdb.Error as exc:
        raise TableError(f"cannot read this {kind} file as a table: {_first_line(exc)}") from None


def _excel_to_parquet(source: Path, target: Path) -> None:
    """The first sheet of a workbook, its first row as the header."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from python_calamine import CalamineWorkbook

    try:
        book = CalamineWorkbook.from_path(str(source))
        rows = book.get_sheet_by_index(0).to_python(skip_empty_area=True)
    except Exception as exc:  # calamine raises its own types for every kind of bad file
        raise TableError(f"cannot read this Excel file: {exc}") from None
    if not rows:
        raise TableError("the first sheet of this Excel file is empty")
    header = _header(rows[0])
    columns: dict[str, list[Any]] = {name: [] for name in header}
    for row in rows[1:]:
        for name, value in zip(header, list(row) + [None] * len(header), strict=False):
            columns[name].append(None if value == "" else value)
    arrays = {}
    for name, values in columns.items():
        try:
            arrays[name] = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: keep them as text
            arrays[name] = pa.array([None if v is None else str(v) for v in values])
    pq.write_table(pa.table(arrays), target, compression="zstd")


def _header(cells: list[Any]) -> list[str]:
    names: list[str] = []
    for index, cell in enumerate(cells, start=1):
        name = str(cell).strip() or f"column{index}"
        while name in names:
            name += "_"
        names.append(name)
    return names


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def table_name(file_name: str) -> str:
    """How SQL refers to a file: its name without extension, made an identifier."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    name = re.sub(r"\W+", "_", stem).strip("_").lower() or "table"
    return f"t_{name}" if name[0].isdigit() else name


def schema_of(con: duckdb.DuckDBPyConnection, path: Path) -> list[tuple[str, str]]:
    return _describe(con, f"read_parquet({literal(str(path))})")


def _describe(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple[str, str]]:
    rows = con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()
    return [(str(r[0]), str(r[1])) for r in rows]
