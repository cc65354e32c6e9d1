"""kill -9 of a real `joliba serve` during uploads and publishes leaves no half-version:
every published version is whole, a draft lists only complete files, and the broken
upload resumes after the restart."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_demo import free_port
from tests.e2e.test_runner_restart import _server
from tests.fixtures.cli import Joliba
from tests.fixtures.waiting import eventually

CHUNK = 256 * 1024


def test_kill_9_during_upload_and_publish(
    tmp_path: Path, fresh_database_url: str | None, request: pytest.FixtureRequest
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    env.update(JOLIBA_HOME=str(tmp_path / "home"), JOLIBA_MAX_RUNS="0")
    if fresh_database_url:
        env["JOLIBA_DATABASE_URL"] = fresh_database_url
    cli = Joliba(env)
    cli("users", "create", "ops@example.org", "--password", "Correct-Horse-9", "--superuser").ok()
    cli("workspaces", "create", "Ops", "--admin", "ops@example.org").ok()
    token = cli("tokens", "create", "ops@example.org").ok().stdout.strip().splitlines()[-1]
    port = free_port()
    url = f"http://127.0.0.1:{port}/api/v1"
    headers = {"Authorization": f"Bearer {token}"}
    api = httpx.Client(base_url=url, headers=headers, timeout=30)
    request.addfinalizer(api.close)
    base = "/workspaces/ops/datasets"
    big = os.urandom(48 * 1024 * 1024)
    big_sha = hashlib.sha256(big).hexdigest()
    log = tmp_path / "server.log"
    stop = threading.Event()

    def slow_body() -> Iterator[bytes]:
        for start in range(0, len(big), CHUNK):
            yield big[start : start + CHUNK]
            time.sleep(0.01)

    def upload_big() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server dies under it, as intended
            httpx.put(
                f"{url}{base}/big/versions/1/files/big.bin",
                content=slow_body(),
                headers={**headers, "X-Content-SHA256": big_sha},
                timeout=60,
            )

    def publish_many() -> None:
        with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
            while not stop.is_set():
                try:
                    number = client.post(f"{base}/many/versions", json={}).json()["number"]
                    for name in ("a.csv", "b.csv", "c.csv"):
                        body = f"n,name\n{number},{name}\n".encode() * 2000
                        client.put(f"{base}/many/versions/{number}/files/{name}", content=body)
                    client.post(f"{base}/many/versions/{number}/publish")
                except (httpx.HTTPError, KeyError, ValueError):
                    return  # the server died under it

    with _server(env, port, log) as first:
        for slug in ("big", "many"):
            assert api.post(base, json={"name": slug}).status_code == 201
        api.post(f"{base}/big/versions", json={})
        uploader = threading.Thread(target=upload_big)
        publisher = threading.Thread(target=publish_many)
        uploader.start()
        publisher.start()
        state = f"{base}/big/versions/1/files/big.bin/upload"

        def received() -> int:
            return int(api.get(state, params={"sha256": big_sha}).json()["received"])

        eventually(
            lambda: received() >= 8 * 1024 * 1024,
            timeout=60,
            message=lambda: f"the upload never got going ({received()} bytes)",
        )
        first.kill()  # SIGKILL mid-upload and, very likely, mid-publish
        first.wait()
        stop.set()
        uploader.join()
        publisher.join()

    with _server(env, port, log):
        assert api.get(f"{base}/big/versions/1").json()["files"] == []
        assert api.get(f"{base}/big").json()["latest"] is None
        versions = api.get(f"{base}/many/versions", params={"page_size": 200}).json()["items"]
        assert versions, "the publisher made no version before the kill"
        for version in versions:
            files = api.get(f"{base}/many/versions/{version['number']}").json()["files"]
            if version["state"] == "published":
                assert sorted(f["name"] for f in files) == ["a.csv", "b.csv", "c.csv"]
            for listed in files:  # every listed file is whole, draft or published
                got = api.get(f"{base}/many/versions/{version['number']}/files/{listed['name']}")
                assert hashlib.sha256(got.content).hexdigest() == listed["sha256"]

        held = api.get(state, params={"sha256": big_sha}).json()["received"]
        assert held >= 8 * 1024 * 1024
        resumed = api.put(
            f"{base}/big/versions/1/files/big.bin",
            content=big[held:],
            headers={"X-Content-SHA256": big_sha, "X-Upload-Offset": str(held)},
        )
        assert resumed.status_code == 201, resumed.text
        assert api.post(f"{base}/big/versions/1/publish").status_code == 200
        got = api.get(f"{base}/big/versions/latest/files/big.bin")
        assert hashlib.sha256(got.content).hexdigest() == big_sha
