"""The datasets client against a real server: streamed uploads checked by hash, broken
connections resumed, downloads that are verified and never left half-written."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from joliba.client import datasets as datasets_module
from joliba.client.api import ApiError, Client
from joliba.client.datasets import ChecksumMismatch, DatasetsApi
from tests.conftest import World

SIZE = 3 * 1024 * 1024 + 12_345  # several chunks, the last one short


class _Cut(httpx.SyncByteStream):
    """A request body that stops after ``limit`` bytes, as a dropped connection does."""

    def __init__(self, stream: httpx.SyncByteStream, limit: int) -> None:
        self.stream = stream
        self.limit = limit

    def __iter__(self) -> Iterator[bytes]:
        sent = 0
        for chunk in self.stream:
            if sent + len(chunk) > self.limit:
                if self.limit > sent:
                    yield chunk[: self.limit - sent]
                raise httpx.WriteError("the test cut the connection")
            sent += len(chunk)
            yield chunk


class BreakingTransport(httpx.HTTPTransport):
    """Real HTTP to the test server; the first ``breaks`` file uploads are cut short.

    ``skew`` is added to the ``X-Upload-Offset`` of the first resumed upload (a client and
    server that disagree on what arrived). Every file upload is recorded.
    """

    def __init__(self, *, breaks: int = 1, cut_at: int = 2_500_000, skew: int = 0):
        super().__init__()
        self.breaks = breaks
        self.cut_at = cut_at
        self.skew = skew
        self.uploads: list[dict[str, int | bool]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and "/files/" in request.url.path:
            offset = request.headers.get("x-upload-offset")
            if offset is not None and self.skew:
                request.headers["X-Upload-Offset"] = str(int(offset) + self.skew)
                self.skew = 0
            self.uploads.append(
                {
                    "offset": int(request.headers.get("x-upload-offset", "0")),
                    "cut": bool(self.breaks),
                }
            )
            if self.breaks:
                self.breaks -= 1
                assert isinstance(request.stream, httpx.SyncByteStream)
                request.stream = _Cut(request.stream, self.cut_at)
        return super().handle_request(request)


@pytest.fixture
def content(tmp_path: Path) -> Path:
    path = tmp_path / "cases.bin"
    path.write_bytes(os.urandom(SIZE))
    return path


def _api(
    world: World, token: str, ws: str, transport: httpx.BaseTransport | None = None
) -> tuple[Client, DatasetsApi]:
    client = world.keep(Client(world.server.url, token, transport=transport))
    return client, DatasetsApi(client, ws, retry_delay=0.05)


def _draft(api: DatasetsApi, slug: str = "cases") -> int:
    api.create("Cases", slug=slug, tags=["malaria"])
    return api.create_version(slug, changelog="first")["number"]


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".part")]


def test_upload_publish_list_download(world: World, content: Path, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    client, api = _api(world, admin.token, ws)
    with client:
        number = _draft(api)
        progress: list[int] = []
        stored = api.upload_file("cases", number, content, on_bytes=progress.append)
        digest = hashlib.sha256(content.read_bytes()).hexdigest()
        assert stored["sha256"] == digest and stored["size"] == SIZE
        assert sum(progress) == SIZE and len(progress) == 4
        odd = tmp_path / "notes 100% (final).txt"
        odd.write_text("read me")
        assert api.upload_file("cases", number, odd)["name"] == odd.name
        published = api.publish("cases", number)
        assert published["state"] == "published"
        assert [f["name"] for f in published["files"]] == ["cases.bin", odd.name]

        assert [d["slug"] for d in api.list_datasets(tag="malaria")] == ["cases"]
        assert api.list_datasets(search="nothing-like-it") == []
        assert [v["number"] for v in api.list_versions("cases")] == [number]
        latest = api.get_version("cases")
        assert latest["number"] == number and api.get("cases")["latest"] is not None

        out = tmp_path / "out" / "deep"
        got: list[int] = []
        path = api.download_file(
            "cases", "latest", "cases.bin", out / "cases.bin", sha256=digest, on_bytes=got.append
        )
        assert path.read_bytes() == content.read_bytes() and sum(got) == SIZE
        api.download_file("cases", number, odd.name, out / odd.name)
        assert (out / odd.name).read_text() == "read me"
        assert _leftovers(out) == []


def test_every_page_is_read(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    monkeypatch.setattr(datasets_module, "PAGE_SIZE", 2)
    client, api = _api(world, admin.token, ws)
    with client:
        for n in range(5):
            api.create(f"Dataset {n}")
        assert [d["slug"] for d in api.list_datasets()] == [f"dataset-{n}" for n in range(5)]


def test_a_damaged_download_leaves_nothing(world: World, content: Path, tmp_path: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    client, api = _api(world, admin.token, ws)
    with client:
        number = _draft(api)
        api.upload_file("cases", number, content)
        out = tmp_path / "out"
        out.mkdir()
        (out / "cases.bin").write_bytes(b"the old copy")
        with pytest.raises(ChecksumMismatch, match="arrived damaged"):
            api.download_file("cases", number, "cases.bin", out / "cases.bin", sha256="0" * 64)
        assert (out / "cases.bin").read_bytes() == b"the old copy"
        with pytest.raises(ApiError) as missing:
            api.download_file("cases", number, "nope.csv", out / "nope.csv")
        assert missing.value.status == 404
        assert sorted(p.name for p in out.iterdir()) == ["cases.bin"]


def test_refusals_are_not_retried(world: World, content: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    transport = BreakingTransport(breaks=0)
    client, api = _api(world, admin.token, ws, transport)
    with client:
        with pytest.raises(ApiError) as missing:
            api.get("no-such-dataset")
        assert missing.value.status == 404
        number = _draft(api)
        api.upload_file("cases", number, content)
        api.publish("cases", number)
        with pytest.raises(ApiError) as published:
            api.upload_file("cases", number, content)
        assert published.value.status == 409
        assert len(transport.uploads) == 2
    other_client, elsewhere = _api(world, admin.token, "no-such-workspace")
    with other_client, pytest.raises(ApiError) as unknown:
        elsewhere.list_datasets()
    assert unknown.value.status == 404 and "no-such-workspace" in unknown.value.message


def test_an_upload_survives_a_broken_connection(world: World, content: Path) -> None:
    """Passes on any server: one that resumes, or one that takes the file again."""
    admin = world.person()
    ws = world.workspace(admin)
    transport = BreakingTransport(breaks=2, cut_at=100_000)
    client, api = _api(world, admin.token, ws, transport)
    with client:
        number = _draft(api)
        progress: list[int] = []
        stored = api.upload_file("cases", number, content, on_bytes=progress.append)
        assert stored["size"] == SIZE
        assert sum(progress) == SIZE  # bytes sent twice are reported once
        assert [u["cut"] for u in transport.uploads] == [True, True, False]
        api.publish("cases", number)
        got = admin.api.get(f"/workspaces/{ws}/datasets/cases/versions/latest/files/cases.bin")
        assert got.content == content.read_bytes()


def test_a_broken_upload_gives_up_after_its_retries(world: World, content: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    transport = BreakingTransport(breaks=10, cut_at=0)  # no attempt gets a byte through
    client, api = _api(world, admin.token, ws, transport)
    with client:
        number = _draft(api)
        with pytest.raises(ApiError, match="failed after 4 attempts"):
            api.upload_file("cases", number, content)
    assert len(transport.uploads) == 4


# The two tests below need a server that keeps what arrived of a broken upload.


def test_a_broken_upload_resumes_where_the_server_stopped(world: World, content: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    transport = BreakingTransport(breaks=1)
    client, api = _api(world, admin.token, ws, transport)
    with client:
        number = _draft(api)
        progress: list[int] = []
        api.upload_file("cases", number, content, on_bytes=progress.append)
        assert sum(progress) == SIZE
    first, second = transport.uploads
    assert first["offset"] == 0
    assert 0 < int(second["offset"]) <= transport.cut_at  # only the rest was sent again
    got = admin.api.get(f"/workspaces/{ws}/datasets/cases/versions/{number}/files/cases.bin")
    assert got.content == content.read_bytes()


def test_a_wrong_offset_is_corrected_by_the_server(world: World, content: Path) -> None:
    admin = world.person()
    ws = world.workspace(admin)
    transport = BreakingTransport(breaks=1, skew=7)
    client, api = _api(world, admin.token, ws, transport)
    with client:
        number = _draft(api)
        api.upload_file("cases", number, content)
    offsets = [int(str(u["offset"])) for u in transport.uploads]
    assert len(offsets) == 3 and offsets[1] == offsets[2] + 7  # 409, then from "received"
    got = admin.api.get(f"/workspaces/{ws}/datasets/cases/versions/{number}/files/cases.bin")
    assert got.content == content.read_bytes()
