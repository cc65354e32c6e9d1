"""Datasets over the REST API: list and create them, draft versions, files in and out.

Uploads stream from disk after the file's SHA-256 is computed; the server checks it. A
connection that breaks mid-upload is retried: the client asks the server how many bytes it
kept and sends the rest. Downloads stream into a hidden file next to the destination, are
checked against the SHA-256 the server announced, and only then take the destination's name,
so a failed download leaves nothing half-written behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import httpx

from joliba.client.api import ApiError, Client
from joliba.domain.wire import DatasetCreateBody, Page, UploadStateInfo, VersionCreateBody
from joliba.domain.wire import DatasetFileInfo as DatasetFileInfo
from joliba.domain.wire import DatasetInfo as DatasetInfo
from joliba.domain.wire import VersionInfo as VersionInfo

#: Bytes read from disk, or handed to the connection, at a time.
CHUNK = 1024 * 1024
#: Broken uploads are resumed this many times before giving up.
UPLOAD_RETRIES = 3
#: Seconds before the first resume; doubled each time.
RETRY_DELAY = 1.0
#: The largest page the server gives.
PAGE_SIZE = 500
#: Answers that mean "try again": no answer at all, or a proxy that lost the server.
RETRYABLE = frozenset({0, 502, 503, 504})
#: Sending and receiving bytes may pause; the server may take long to store a large file.
TRANSFER_TIMEOUT = httpx.Timeout(60.0, read=1800.0)

ProgressCallback = Callable[[int], None]


class ChecksumMismatch(ApiError):
    """Downloaded bytes whose SHA-256 is not the one the server announced."""

    def __init__(self, message: str) -> None:
        super().__init__(0, "sha256_mismatch", message)


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _segment(value: str | int) -> str:
    return quote(str(value), safe="")


class DatasetsApi:
    """The datasets of one workspace, through a :class:`Client`.

    ``dataset`` arguments are what the user gives: a slug of the workspace or, for a dataset
    shared with it, ``source-workspace.slug``. ``version`` is a number, a name or ``latest``.
    """

    def __init__(
        self,
        client: Client,
        workspace: str,
        *,
        retries: int = UPLOAD_RETRIES,
        retry_delay: float = RETRY_DELAY,
    ) -> None:
        self.client = client
        self.workspace = workspace
        self.retries = retries
        self.retry_delay = retry_delay

    # paths

    def _base(self) -> str:
        return f"/workspaces/{_segment(self.workspace)}/datasets"

    def _dataset(self, dataset: str) -> str:
        return f"{self._base()}/{_segment(dataset)}"

    def _version(self, dataset: str, version: str | int) -> str:
        return f"{self._dataset(dataset)}/versions/{_segment(version)}"

    def _file(self, dataset: str, version: str | int, name: str) -> str:
        return f"{self._version(dataset, version)}/files/{_segment(name)}"

    def _all(self, path: str, **params: Any) -> list[Any]:
        items: list[Any] = []
        page = 1
        while True:
            answer: Page[Any] = self.client.get(path, page=page, page_size=PAGE_SIZE, **params)
            items.extend(answer["items"])
            if not answer["items"] or len(items) >= answer["total"]:
                return items
            page += 1

    # datasets

    def list_datasets(self, *, search: str = "", tag: str = "") -> list[DatasetInfo]:
        """Every dataset of the workspace (all pages), filtered as the server does."""
        found = self._all(self._base(), search=search or None, tag=tag or None)
        return cast("list[DatasetInfo]", found)

    def create(
        self,
        name: str,
        *,
        slug: str | None = None,
        description: str = "",
        tags: Iterable[str] = (),
    ) -> DatasetInfo:
        body = DatasetCreateBody(name=name, slug=slug, description=description, tags=list(tags))
        return cast(DatasetInfo, self.client.post(self._base(), json=body))

    def get(self, dataset: str) -> DatasetInfo:
        return cast(DatasetInfo, self.client.get(self._dataset(dataset)))

    def to_table(
        self,
        dataset: str,
        file: str,
        table: str,
        *,
        version: str | int = "latest",
        if_exists: str = "replace",
        follow: bool = False,
    ) -> dict[str, Any]:
        """Load ``file`` of a version into table ``table`` of the workspace's database."""
        body = {
            "dataset": dataset,
            "version": str(version),
            "file": file,
            "table": table,
            "if_exists": if_exists,
            "follow": follow,
        }
        path = f"/workspaces/{_segment(self.workspace)}/database/loads"
        return cast(dict[str, Any], self.client.post(path, json=body))

    # versions

    def list_versions(self, dataset: str) -> list[VersionInfo]:
        """Every version, newest first, drafts included (without their files)."""
        return cast("list[VersionInfo]", self._all(f"{self._dataset(dataset)}/versions"))

    def create_version(self, dataset: str, *, name: str = "", changelog: str = "") -> VersionInfo:
        """A new draft (named ``v<number>`` unless ``name`` is given)."""
        body = VersionCreateBody(name=name, changelog=changelog)
        return cast(VersionInfo, self.client.post(f"{self._dataset(dataset)}/versions", json=body))

    def get_version(self, dataset: str, version: str | int = "latest") -> VersionInfo:
        """A version with its files; ``latest`` is the newest published one."""
        return cast(VersionInfo, self.client.get(self._version(dataset, version)))

    def publish(self, dataset: str, version: str | int) -> VersionInfo:
        return cast(VersionInfo, self.client.post(f"{self._version(dataset, version)}/publish"))

    def delete_file(self, dataset: str, version: str | int, name: str) -> None:
        self.client.delete(self._file(dataset, version, name))

    # files

    def upload_file(
        self,
        dataset: str,
        version: str | int,
        path: str | os.PathLike[str],
        *,
        name: str | None = None,
        sha256: str | None = None,
        on_bytes: ProgressCallback | None = None,
    ) -> DatasetFileInfo:
        """Stream ``path`` into a draft as ``name`` (default: the file's name).

        ``on_bytes(n)`` is called as bytes go out, ``n`` at a time; across resumed attempts
        the calls add up to the file's size exactly. ``sha256`` skips hashing when known.
        """
        source = Path(path)
        name = name or source.name
        size = source.stat().st_size
        digest = sha256 or sha256_of(source)
        target = self._file(dataset, version, name)
        sent = _Sent(on_bytes)
        offset = 0
        held = 0  # the most the server said it kept: a resume that gained resets the count
        ask = False  # whether to ask the server where a broken upload stopped
        failures = 0  # broken attempts in a row that moved nothing forward
        corrections = 0
        attempts = 0
        while True:
            try:
                if ask:
                    offset = self._received(target, digest, size)
                    ask = False
                    if offset > held:
                        held, failures = offset, 0
                attempts += 1
                return self._put(target, source, digest, offset, size, sent)
            except ApiError as exc:
                received = _received_from(exc)
                if received is not None and corrections < self.retries:
                    corrections += 1  # the server holds another amount: continue from there
                    offset = min(received, size)
                    continue
                if not _retryable(exc):
                    raise
                failures += 1
                if failures > self.retries:
                    raise ApiError(
                        exc.status,
                        exc.code,
                        f"uploading '{name}' failed after {attempts} attempts: {exc.message}",
                        exc.details,
                    ) from None
                ask = True
                time.sleep(self.retry_delay * 2 ** (failures - 1))

    def _put(
        self, target: str, source: Path, digest: str, offset: int, size: int, sent: _Sent
    ) -> DatasetFileInfo:
        headers = {
            "Content-Type": "application/octet-stream",
            "Content-Length": str(size - offset),
            "X-Content-SHA256": digest,
        }
        if offset:
            headers["X-Upload-Offset"] = str(offset)
        answer = self.client.put(
            target,
            content=_read_from(source, offset, size, sent),
            headers=headers,
            timeout=TRANSFER_TIMEOUT,
        )
        return cast(DatasetFileInfo, answer)

    def _received(self, target: str, digest: str, size: int) -> int:
        """How many bytes of a broken upload the server kept (0 if it keeps none)."""
        try:
            answer = self.client.get(f"{target}/upload", sha256=digest)
        except ApiError as exc:
            if exc.status in (404, 405):  # a server that does not resume: start again
                return 0
            raise
        if not isinstance(answer, dict):
            return 0
        received = cast(UploadStateInfo, answer).get("received")  # the server's: checked
        if not isinstance(received, int) or isinstance(received, bool) or received < 0:
            return 0
        return min(received, size)

    def download_file(
        self,
        dataset: str,
        version: str | int,
        name: str,
        destination: str | os.PathLike[str],
        *,
        sha256: str | None = None,
        on_bytes: ProgressCallback | None = None,
    ) -> Path:
        """Stream a file to ``destination`` (a file path; its folder is created).

        The bytes go to a hidden file in the same folder, are checked against ``sha256``
        (from a version's listing) and the server's ETag, then replace ``destination`` in
        one step. On any failure nothing is left behind and ``destination`` is untouched.
        """
        target = Path(destination)
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.parent / f".{target.name}.{secrets.token_hex(4)}.part"
        fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with (
                os.fdopen(fd, "wb") as out,
                self.client.stream(
                    "GET", self._file(dataset, version, name), timeout=TRANSFER_TIMEOUT
                ) as response,
            ):
                announced = _etag(response.headers.get("etag", ""))
                digest = hashlib.sha256()
                for chunk in response.iter_bytes(CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
                    if on_bytes is not None:
                        on_bytes(len(chunk))
            got = digest.hexdigest()
            for expected in (sha256, announced):
                if expected and expected.lower() != got:
                    raise ChecksumMismatch(
                        f"'{name}' arrived damaged: its SHA-256 is {got}, not {expected.lower()}"
                    )
            os.replace(scratch, target)
        except BaseException:
            with contextlib.suppress(OSError):
                scratch.unlink()
            raise
        return target


class _Sent:
    """Reports bytes to ``on_bytes`` once each, however often a resumed upload resends them."""

    def __init__(self, on_bytes: ProgressCallback | None) -> None:
        self.on_bytes = on_bytes
        self.reported = 0

    def reached(self, position: int) -> None:
        if position > self.reported:
            if self.on_bytes is not None:
                self.on_bytes(position - self.reported)
            self.reported = position


def _read_from(source: Path, offset: int, size: int, sent: _Sent) -> Iterator[bytes]:
    """The file's bytes from ``offset`` to ``size`` (what was hashed, even if it grew)."""
    with source.open("rb") as handle:
        handle.seek(offset)
        position = offset
        while position < size:
            chunk = handle.read(min(CHUNK, size - position))
            if not chunk:
                return  # it shrank: the server's SHA-256 check refuses it
            yield chunk
            position += len(chunk)  # handed over: count it when the next one is asked for
            sent.reached(position)


def _retryable(exc: ApiError) -> bool:
    """No answer, a proxy that lost the server, or another connection still on the upload."""
    if exc.status in RETRYABLE:
        return True
    return exc.status == 409 and isinstance(exc.details, dict) and bool(exc.details.get("busy"))


def _received_from(exc: ApiError) -> int | None:
    """A 409's ``details.received``: the server holds a different amount than we said."""
    if exc.status != 409 or not isinstance(exc.details, dict):
        return None
    received = exc.details.get("received")
    if isinstance(received, int) and not isinstance(received, bool) and received >= 0:
        return received
    return None


def _etag(value: str) -> str:
    value = value.strip()
    if value.startswith("W/"):
        value = value[2:]
    return value.strip('"')


def total_size(files: Sequence[DatasetFileInfo]) -> int:
    return sum(f["size"] for f in files)
