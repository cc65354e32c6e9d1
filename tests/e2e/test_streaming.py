"""Large files stream through a real `joliba serve` process without being held in memory."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.e2e.test_demo import free_port
from tests.fixtures.cli import Joliba
from tests.fixtures.servers import wait_until_serving

SIZE_MB = 256
BLOCK = os.urandom(1024 * 1024)


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _env(home: Path, database_url: str | None) -> dict[str, str]:
    env = {**os.environ, "JOLIBA_HOME": str(home), "JOLIBA_LOG_LEVEL": "warning"}
    if database_url:
        env["JOLIBA_DATABASE_URL"] = database_url
    return env


def test_big_upload_and_download_use_bounded_memory(
    tmp_path: Path, fresh_database_url: str | None
) -> None:
    env = _env(tmp_path / "home", fresh_database_url)
    cli = Joliba(env)
    cli("users", "create", "big@example.org", "--password", "long enough pw").ok()
    cli("workspaces", "create", "Big", "--slug", "big", "--admin", "big@example.org").ok()
    token = cli("tokens", "create", "big@example.org").ok().stdout.split()[-1]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "joliba.cli.main", "serve", "--port", str(port)],
        env=env,
    )
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/v1",
            headers={"Authorization": f"Bearer {token}"},
            timeout=300,
        ) as api:
            wait_until_serving("/health", client=api, process=server, timeout=15)
            idle = _peak_rss_mb(server.pid)
            sent = hashlib.sha256()

            def body() -> Iterator[bytes]:
                for _ in range(SIZE_MB):
                    sent.update(BLOCK)
                    yield BLOCK

            r = api.put("/workspaces/big/files/big.bin", content=body())
            assert r.status_code == 201, r.text
            assert r.json()["size"] == SIZE_MB * len(BLOCK)
            got = hashlib.sha256()
            with api.stream("GET", "/workspaces/big/files/big.bin") as response:
                for chunk in response.iter_bytes():
                    got.update(chunk)
            assert got.digest() == sent.digest()
            grown = _peak_rss_mb(server.pid) - idle
            assert grown < 64, f"server memory grew by {grown:.0f} MiB for a {SIZE_MB} MiB file"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
