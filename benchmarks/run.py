"""`make bench`: measure Joliba against baselines measured in the same run, and print ratios.

1. Streaming a large file (default 2 GiB) up to and back from workspace storage through a real
   `joliba serve` process, against copying the same bytes to and from disk directly. Also
   prints the server's peak memory (VmHWM), which must stay far below the file size.
2. An authenticated API list request against the unauthenticated health check, both over
   HTTP to the same server: the cost of sign-in, permission checks and paging.
3. Pipeline runs (benchmarks/pipelines.py): trigger-to-first-line latency against a bare
   `python -c "import joliba"`, the throughput of trivial runs queued at once, and how long a
   cancel takes to end a running run against SIGTERM to a bare python process.
4. Datasets (benchmarks/datasets.py): profiling a 5,000,000-row Parquet table on the server and
   in-process against DuckDB's SUMMARIZE, and a 2 GiB upload into a draft against writing the
   bytes to disk, with the server's peak memory (JOLIBA_BENCH_SMALL=1 for a quick run).
5. DHIS2 extraction (benchmarks/dhis2.py): about 1,000,000 values from `joliba dhis2 emulator`
   into Parquet with Joliba's client against a naive one (request by request, whole JSON,
   pandas), values/s and peak memory of each; Joliba's peak again for 3 x the values.
6. Workspace tables (benchmarks/tables.py): a 5,000,000-row Parquet file written into a
   PostgreSQL database by `workspace.write_table` against `COPY` of the same rows as CSV, and
   write_table's peak memory for all rows and for a fifth of them.

Usage: python benchmarks/run.py [--size-mb 2048] [--requests 300] [--runs 20] [--throughput 200]
       [--dataset-rows 5000000] [--dataset-upload-mib 2048] [--dhis2-months 4]
       [--table-rows 5000000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import datasets  # benchmarks/datasets.py, next to this script
import httpx
import pipelines  # benchmarks/pipelines.py, next to this script
import tables  # benchmarks/tables.py, next to this script

import dhis2  # benchmarks/dhis2.py (ruff sees tests/dhis2 and files it as first party)

CHUNK = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def payload(size_mb: int) -> Iterator[bytes]:
    block = os.urandom(CHUNK)
    for _ in range(size_mb):
        yield block


def joliba(home: Path, *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "JOLIBA_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "joliba.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        **kwargs,  # type: ignore[arg-type]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mb", type=int, default=2048)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--runs", type=int, default=20, help="pipeline runs timed one by one")
    parser.add_argument("--throughput", type=int, default=200, help="pipeline runs queued at once")
    parser.add_argument("--dataset-rows", type=int, default=None, help="rows of the profiled table")
    parser.add_argument("--dataset-upload-mib", type=int, default=None, help="dataset upload size")
    parser.add_argument("--dhis2-months", type=int, default=None, help="months of DHIS2 values")
    parser.add_argument("--table-rows", type=int, default=None, help="rows of the written table")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="joliba-bench-"))
    home = work / "home"
    try:
        joliba(
            home,
            "users",
            "create",
            "bench@example.org",
            "--password",
            "benchmark-pass",
            "--superuser",
        )
        joliba(
            home, "workspaces", "create", "Bench", "--slug", "bench", "--admin", "bench@example.org"
        )
        token = joliba(home, "tokens", "create", "bench@example.org").stdout.split()[-1]
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "joliba.cli.main", "serve", "--port", str(port)],
            env={**os.environ, "JOLIBA_HOME": str(home), "JOLIBA_LOG_LEVEL": "warning"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}/api/v1"
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=600) as api:
            for _ in range(100):
                try:
                    api.get("/health")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            baseline_rss = peak_rss_mb(server.pid)
            files(api, work, args.size_mb, server.pid, baseline_rss)
            requests(api, args.requests)
        server.send_signal(signal.SIGINT)
        server.wait(timeout=20)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pipelines.run(args.runs, args.throughput)
    datasets.run(args.dataset_rows, args.dataset_upload_mib)
    dhis2.run(args.dhis2_months)
    tables.run(args.table_rows)


def files(api: httpx.Client, work: Path, size_mb: int, pid: int, idle_rss: float) -> None:
    t0 = time.perf_counter()
    with open(work / "direct.bin", "wb") as out:
        for block in payload(size_mb):
            out.write(block)
    direct_write = time.perf_counter() - t0
    direct_read = static_download(work, "direct.bin", size_mb)
    (work / "direct.bin").unlink()

    t0 = time.perf_counter()
    r = api.put("/workspaces/bench/files/big.bin", content=payload(size_mb))
    r.raise_for_status()
    upload = time.perf_counter() - t0
    t0 = time.perf_counter()
    received = 0
    with api.stream("GET", "/workspaces/bench/files/big.bin") as response:
        for chunk in response.iter_bytes(CHUNK):
            received += len(chunk)
    download = time.perf_counter() - t0
    assert received == size_mb * CHUNK, received
    peak = peak_rss_mb(pid)
    print(f"file streaming, {size_mb} MiB")
    print(
        f"  upload   {upload:7.2f} s  {size_mb / upload:8.1f} MiB/s  "
        f"ratio {upload / direct_write:5.2f} x writing the bytes to disk ({direct_write:.2f} s)"
    )
    print(
        f"  download {download:7.2f} s  {size_mb / download:8.1f} MiB/s  "
        f"ratio {download / direct_read:5.2f} x python -m http.server ({direct_read:.2f} s)"
    )
    print(
        f"  server peak memory {peak:.0f} MiB: {peak - idle_rss:.0f} MiB above idle "
        f"({idle_rss:.0f} MiB) while streaming a {size_mb} MiB file"
    )


def static_download(folder: Path, name: str, size_mb: int) -> float:
    """Baseline: the same bytes from Python's own static file server, over loopback."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            for _ in range(100):
                try:
                    client.head("/")
                    break
                except httpx.ConnectError:
                    time.sleep(0.1)
            t0 = time.perf_counter()
            received = 0
            with client.stream("GET", f"/{name}") as response:
                for chunk in response.iter_bytes(CHUNK):
                    received += len(chunk)
            assert received == size_mb * CHUNK
            return time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait()


def requests(api: httpx.Client, n: int) -> None:
    def timed(path: str) -> list[float]:
        out = []
        for _ in range(n):
            t0 = time.perf_counter()
            api.get(path).raise_for_status()
            out.append(time.perf_counter() - t0)
        return out

    timed("/health")  # warm up
    health = timed("/health")
    listing = timed("/workspaces/bench/files")
    h50, l50 = statistics.median(health) * 1000, statistics.median(listing) * 1000
    print(f"API requests, {n} each")
    print(f"  GET /health                     p50 {h50:6.2f} ms")
    print(
        f"  GET /workspaces/bench/files     p50 {l50:6.2f} ms  ratio {l50 / h50:5.2f} x health "
        "(token, membership, listing)"
    )


if __name__ == "__main__":
    main()
