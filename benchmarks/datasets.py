"""Datasets through a real `joliba serve`: profiling a large table, streaming a large file in.

1. Profile: a Parquet table of 5,000,000 rows (org_unit ~1500 distinct, period 60, data_element
   ~150, value with ~3 % nulls), written by DuckDB, is uploaded into a draft (PUT with its
   X-Content-SHA256), published, and its profile polled until done. Printed: upload + publish
   time, upload end → profile done, and the server's peak memory meanwhile. Then
   `joliba.storage.profiling.profile` on the same file, in a child process with the limits the
   server uses (512 MB, min(4, CPUs) threads), against DuckDB's own `SUMMARIZE` of the file
   on a connection with the same limits, best of 3 each, alternating.
   Goals: profile ≤ 1.5 x SUMMARIZE; peak memory of the profiling < 1 GB.
2. Upload: 2 GiB of pseudo-random bytes, generated on the fly (never held in memory; the
   SHA-256 in a first pass over the same deterministic bytes), streamed into a draft, then
   published; against writing the same bytes to a local file on the same disk.
   Goal: the server's peak memory during the upload < 200 MB.

Each part runs on a fresh server (own JOLIBA_HOME in a temporary folder, SQLite, local
storage); server memory is the peak resident set from the start of the part (the kernel's
high-water mark, reset first, and VmRSS sampled every 10 ms). MB are 10^6 bytes.

Usage: python benchmarks/datasets.py [--rows 5000000] [--upload-mib 2048] [--small]
--small (or JOLIBA_BENCH_SMALL=1) runs 200,000 rows and 64 MiB, for a quick check.
Set JOLIBA_BENCH_KEEP=1 to keep the temporary folder (server logs, files).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from pipelines import Server, fresh_server

WS = "bench"
ROWS = 5_000_000
UPLOAD_MIB = 2048
SMALL_ROWS = 200_000
SMALL_UPLOAD_MIB = 64
REPEATS = 3
CHUNK = 1024 * 1024
MB = 1_000_000
PROFILE_RATIO_GOAL = 1.5  # profile() at most this many times SUMMARIZE
PROFILE_MEMORY_GOAL_MB = 1000
UPLOAD_MEMORY_GOAL_MB = 200
TABLE_MEMORY_MB = 512  # the server's default JOLIBA_TABLE_MEMORY_MB

TABLE_SQL = """
COPY (
    SELECT
        'OU' || lpad((hash(i, 1) % 1500 + 1)::VARCHAR, 9, '0') AS org_unit,
        strftime(DATE '2020-01-01' + to_months((hash(i, 2) % 60)::INTEGER), '%Y%m') AS period,
        'DE' || lpad((hash(i, 3) % 150 + 1)::VARCHAR, 9, '0') AS data_element,
        CASE WHEN hash(i, 4) % 100 < 3 THEN NULL
             ELSE round((hash(i, 5) % 1000000) / 100.0, 2) END::DOUBLE AS value
    FROM range({rows}) AS t(i)
) TO {path} (FORMAT parquet)
"""


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def status_mb(pid: int | str, field: str) -> float:
    """A memory line of /proc/<pid>/status (VmRSS, VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / MB
    return float("nan")


class PeakMemory:
    """The peak resident memory of a running process from now on: the kernel's high-water
    mark after resetting it (clear_refs), and VmRSS sampled meanwhile should the reset fail."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.start = status_mb(pid, "VmRSS")
        self.sampled = self.start
        self.peak = float("nan")
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")
            self.reset = True
        except OSError:
            self.reset = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(self.interval):
            try:
                self.sampled = max(self.sampled, status_mb(self.pid, "VmRSS"))
            except OSError:  # the process ended
                return

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()
        high = status_mb(self.pid, "VmHWM") if self.reset else float("nan")
        self.peak = max(self.sampled, high) if self.reset else self.sampled


@contextmanager
def serve(work: Path, name: str) -> Iterator[Server]:
    """A fresh server for one part of the benchmark (long uploads: a long timeout)."""
    with fresh_server(work, name, timeout=600) as server:
        yield server


def checked(response: httpx.Response, what: str, status: int = 200) -> dict[str, Any]:
    if response.status_code != status:
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:2000]}")
    return dict(response.json())


def draft(api: httpx.Client, slug: str, name: str) -> str:
    """A new dataset with a draft version; the version's path under /workspaces/{ws}."""
    checked(
        api.post(f"/workspaces/{WS}/datasets", json={"name": name, "slug": slug}),
        "create dataset",
        201,
    )
    version = checked(
        api.post(f"/workspaces/{WS}/datasets/{slug}/versions", json={}), "create version", 201
    )
    return f"/workspaces/{WS}/datasets/{slug}/versions/{version['number']}"


def put_file(
    api: httpx.Client, version: str, name: str, body: Iterator[bytes], size: int, sha256: str
) -> dict[str, Any]:
    response = api.put(
        f"{version}/files/{name}",
        content=body,
        headers={"X-Content-SHA256": sha256, "Content-Length": str(size)},
    )
    return checked(response, f"upload {name}", 201)


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while data := handle.read(CHUNK):
            yield data


def sha256_of(chunks: Iterator[bytes]) -> str:
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()


# 1. Profiling ----------------------------------------------------------------------------


def make_table(path: Path, rows: int) -> float:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    try:
        con.execute(TABLE_SQL.format(rows=rows, path="'" + str(path) + "'"))
    finally:
        con.close()
    return time.perf_counter() - t0


def server_profile(work: Path, table: Path, rows: int) -> None:
    size = table.stat().st_size
    sha256 = sha256_of(file_chunks(table))
    with serve(work, "profile") as server:
        api = server.api
        version = draft(api, "routine-data", "Routine data")
        with PeakMemory(server.process.pid) as memory:
            t0 = time.perf_counter()
            put_file(api, version, "data.parquet", file_chunks(table), size, sha256)
            uploaded = time.perf_counter()
            checked(api.post(f"{version}/publish"), "publish")
            published = time.perf_counter()
            result = wait_profile(api, f"{version}/files/data.parquet/profile")
            profiled = time.perf_counter()
    if result.get("rows") != rows:
        raise RuntimeError(f"the server's profile counts {result.get('rows')} rows, not {rows}")
    print(f"dataset profile, {rows:,} rows, Parquet {size / MB:.1f} MB, through the server")
    print(
        f"  upload + publish {published - t0:6.2f} s  (upload {uploaded - t0:.2f} s, "
        f"publish {published - uploaded:.2f} s)"
    )
    print(f"  upload end → profile done {profiled - uploaded:6.2f} s  (polled every 50 ms)")
    print(
        f"  server peak memory {memory.peak:.0f} MB ({memory.start:.0f} MB before the upload)  "
        f"goal < {PROFILE_MEMORY_GOAL_MB} MB {verdict(memory.peak < PROFILE_MEMORY_GOAL_MB)}"
    )


def wait_profile(api: httpx.Client, url: str, timeout: float = 1800) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = checked(api.get(url), "profile")
        if found["state"] == "done":
            return found
        if found["state"] == "failed":
            raise RuntimeError(f"the profile failed: {found.get('error')}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the profile is still {found['state']} after {timeout:.0f} s")
        time.sleep(0.05)


def local_profile(work: Path, table: Path, rows: int) -> None:
    """profile() against SUMMARIZE, each run in its own child process, alternating."""
    runs: dict[str, list[dict[str, float]]] = {"profile": [], "summarize": []}
    for _ in range(REPEATS):
        for kind in runs:
            out = subprocess.run(
                [sys.executable, __file__, "--child", kind, str(table), str(work / "spill")],
                capture_output=True,
                text=True,
                check=False,
                timeout=1800,
            )
            if out.returncode != 0:
                raise RuntimeError(f"{kind} in a child process failed:\n{out.stderr}")
            result = json.loads(out.stdout)
            if kind == "profile" and result["rows"] != rows:
                raise RuntimeError(f"profile() counts {result['rows']} rows, not {rows}")
            runs[kind].append(result)
    best = {kind: min(r["seconds"] for r in results) for kind, results in runs.items()}
    peak = {kind: max(r["peak_mb"] for r in results) for kind, results in runs.items()}
    idle = {kind: max(r["idle_mb"] for r in results) for kind, results in runs.items()}
    ratio = best["profile"] / best["summarize"]
    threads = min(4, os.cpu_count() or 1)
    print(
        f"profile() in-process, {rows:,} rows, DuckDB limits {TABLE_MEMORY_MB} MB and {threads} "
        f"threads, best of {REPEATS}, each run in a fresh process"
    )
    print(
        f"  profile()  {best['profile']:6.2f} s  ratio {ratio:5.2f} x SUMMARIZE "
        f"({best['summarize']:.2f} s)  goal ≤ {PROFILE_RATIO_GOAL} x "
        f"{verdict(ratio <= PROFILE_RATIO_GOAL)}"
    )
    print(
        f"  peak memory (VmHWM) profile() {peak['profile']:.0f} MB, SUMMARIZE "
        f"{peak['summarize']:.0f} MB (the process after its imports: {idle['profile']:.0f} MB)  "
        f"goal < {PROFILE_MEMORY_GOAL_MB} MB {verdict(peak['profile'] < PROFILE_MEMORY_GOAL_MB)}"
    )


def child(kind: str, table: Path, spill: Path) -> None:
    """One timed run of profile() or SUMMARIZE; prints seconds, rows and memory as JSON."""
    from joliba.storage.profiling import profile
    from joliba.storage.tables import Limits, connect, literal

    limits = Limits(memory_mb=TABLE_MEMORY_MB, threads=min(4, os.cpu_count() or 1))
    idle = status_mb("self", "VmHWM")
    con = connect(limits, spill)
    try:
        t0 = time.perf_counter()
        if kind == "profile":
            rows = int(profile(con, table)["rows"])
        else:
            source = f"read_parquet({literal(str(table))})"  # our own file, quoted
            found = con.execute(f"SUMMARIZE SELECT * FROM {source}")  # noqa: S608
            rows = int(found.fetchall()[0][-2])  # the count column
        seconds = time.perf_counter() - t0
    finally:
        con.close()
    peak = status_mb("self", "VmHWM")
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_mb": peak, "idle_mb": idle}))


# 2. A large upload -----------------------------------------------------------------------


def pseudo_random(size: int, seed: int = 20240601) -> Iterator[bytes]:
    """``size`` bytes, the same every time, in 1 MiB chunks: a 16 MiB pool of random
    blocks, each chunk stamped with its index so that no two are alike."""
    pool = [random.Random(seed + i).randbytes(CHUNK) for i in range(16)]
    for index in range(-(-size // CHUNK)):
        block = index.to_bytes(8, "little") + pool[(index * 7) % len(pool)][8:]
        yield block[: min(CHUNK, size - index * CHUNK)]


def upload(work: Path, size_mib: int) -> None:
    size = size_mib * CHUNK
    t0 = time.perf_counter()
    sha256 = sha256_of(pseudo_random(size))
    hashing = time.perf_counter() - t0
    direct = work / "direct.bin"
    t0 = time.perf_counter()
    with direct.open("wb") as out:
        for block in pseudo_random(size):
            out.write(block)
    direct_write = time.perf_counter() - t0
    direct.unlink()
    with serve(work, "upload") as server:
        api = server.api
        version = draft(api, "bulk-file", "Bulk file")
        with PeakMemory(server.process.pid) as memory:
            t0 = time.perf_counter()
            stored = put_file(api, version, "big.bin", pseudo_random(size), size, sha256)
            seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        checked(api.post(f"{version}/publish"), "publish")
        publish = time.perf_counter() - t0
    if stored["size"] != size or stored["sha256"] != sha256:
        raise RuntimeError(f"the server stored {stored}, not {size} bytes of {sha256}")
    print(f"dataset file upload, {size_mib} MiB ({size / MB:.0f} MB), streamed from a generator")
    print(
        f"  upload   {seconds:7.2f} s  {size / MB / seconds:7.1f} MB/s  "
        f"ratio {seconds / direct_write:5.2f} x writing the bytes to disk ({direct_write:.2f} s, "
        f"{size / MB / direct_write:.0f} MB/s)  [client SHA-256 pass {hashing:.2f} s]"
    )
    print(f"  publish  {publish:7.2f} s")
    print(
        f"  server peak memory {memory.peak:.0f} MB ({memory.start:.0f} MB before the upload)  "
        f"goal < {UPLOAD_MEMORY_GOAL_MB} MB {verdict(memory.peak < UPLOAD_MEMORY_GOAL_MB)}"
    )


# -----------------------------------------------------------------------------------------


def small() -> bool:
    return os.environ.get("JOLIBA_BENCH_SMALL", "") not in ("", "0")


def run(rows: int | None = None, upload_mib: int | None = None) -> None:
    """Both dataset benchmarks; called by benchmarks/run.py (JOLIBA_BENCH_SMALL=1: small)."""
    rows = rows or (SMALL_ROWS if small() else ROWS)
    upload_mib = upload_mib or (SMALL_UPLOAD_MIB if small() else UPLOAD_MIB)
    work = Path(tempfile.mkdtemp(prefix="joliba-bench-datasets-"))
    try:
        table = work / "routine.parquet"
        made = make_table(table, rows)
        print(f"(test table: {rows:,} rows written by DuckDB in {made:.1f} s)")
        server_profile(work, table, rows)
        local_profile(work, table, rows)
        upload(work, upload_mib)
    finally:
        if os.environ.get("JOLIBA_BENCH_KEEP"):
            print(f"  (kept {work})", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=None, help=f"table rows (default {ROWS:,})")
    parser.add_argument(
        "--upload-mib", type=int, default=None, help=f"upload size (default {UPLOAD_MIB})"
    )
    parser.add_argument(
        "--small",
        action="store_true",
        help=f"{SMALL_ROWS:,} rows and {SMALL_UPLOAD_MIB} MiB (also JOLIBA_BENCH_SMALL=1)",
    )
    parser.add_argument("--child", nargs=3, metavar=("KIND", "TABLE", "SPILL"), help="internal")
    args = parser.parse_args()
    if args.child:
        kind, table, spill = args.child
        child(kind, Path(table), Path(spill))
        return
    if args.small:
        os.environ["JOLIBA_BENCH_SMALL"] = "1"
    run(args.rows, args.upload_mib)


if __name__ == "__main__":
    main()
