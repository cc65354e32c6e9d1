"""Writing a large Parquet table into a workspace's PostgreSQL database.

A Parquet file of 5,000,000 rows (org_unit, period, data_element, value with ~3 % nulls, as
the DHIS2 extraction writes) goes into a fresh PostgreSQL database two ways, each in a child
process of its own, best of 3, alternating:

- Joliba: ``joliba.sdk.tables.write_table(path, "values", url)`` (what
  ``workspace.write_table`` does in a run): Parquet row groups → CSV batches → ``COPY``.
- Baseline: ``COPY values FROM STDIN (FORMAT csv)`` fed the same rows as a CSV file that
  DuckDB wrote beforehand (the file read in 1 MiB chunks): the server's own bulk load, with
  no conversion on the client at all.

Printed: both times, their ratio (goal ≤ 1.5 x), and Joliba's peak memory (VmHWM) for the
full table and for a fifth of it: memory must not grow with the rows (goal: the two peaks
within 1.3 x of each other).

The database: JOLIBA_BENCH_PG_URL, default ``postgresql://postgres@127.0.0.1:5432/postgres``
(a database is made for the run and dropped after).

Usage: python benchmarks/tables.py [--rows 5000000] [--small]
--small (or JOLIBA_BENCH_SMALL=1) runs 500,000 rows, for a quick check.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import duckdb
import psycopg

ROWS = 5_000_000
SMALL_ROWS = 500_000
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"

JOLIBA = """
import json, sys, time
from joliba.sdk.tables import write_table
path, url = sys.argv[1], sys.argv[2]
started = time.perf_counter()
rows = write_table(path, "values", url)
seconds = time.perf_counter() - started
peak = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
print(json.dumps({"rows": rows, "seconds": seconds, "peak_mb": int(peak) / 1024}))
"""

BASELINE = """
import json, sys, time
import psycopg
path, url = sys.argv[1], sys.argv[2]
started = time.perf_counter()
with psycopg.connect(url) as con, con.transaction():
    con.execute("DROP TABLE IF EXISTS values")
    con.execute("CREATE TABLE values (org_unit TEXT, period TEXT, data_element TEXT, "
                "value DOUBLE PRECISION)")
    with open(path, "rb") as source, con.cursor().copy(
        "COPY values FROM STDIN (FORMAT csv)"
    ) as copy:
        while block := source.read(1 << 20):
            copy.write(block)
seconds = time.perf_counter() - started
peak = next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1]
print(json.dumps({"seconds": seconds, "peak_mb": int(peak) / 1024}))
"""


def make_files(folder: Path, rows: int) -> tuple[Path, Path]:
    parquet, csv = folder / "values.parquet", folder / "values.csv"
    con = duckdb.connect()
    con.execute(
        """
        CREATE TABLE v AS SELECT
          'OU' || lpad(CAST(i % 1500 AS VARCHAR), 5, '0') AS org_unit,
          CAST(2020 + (i // 1500) % 5 AS VARCHAR) || lpad(CAST((i // 7500) % 12 + 1 AS VARCHAR),
            2, '0') AS period,
          'DE' || lpad(CAST(i % 151 AS VARCHAR), 4, '0') AS data_element,
          CASE WHEN i % 33 = 0 THEN NULL ELSE (i * 7919) % 10000 / 10.0 END AS value
        FROM range(?) t(i)
        """,
        [rows],
    )
    con.execute(f"COPY v TO '{parquet}' (FORMAT parquet, ROW_GROUP_SIZE 122880)")
    con.execute(f"COPY v TO '{csv}' (FORMAT csv, HEADER false)")
    con.close()
    return parquet, csv


def child(code: str, *args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark child failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def count(url: str) -> int:
    with psycopg.connect(url) as con:
        found = con.execute("SELECT count(*) FROM values").fetchone()
    return int(found[0]) if found else 0


def run(rows: int | None = None) -> None:
    small = os.environ.get("JOLIBA_BENCH_SMALL") == "1"
    rows = rows or (SMALL_ROWS if small else ROWS)
    admin_url = os.environ.get("JOLIBA_BENCH_PG_URL", DEFAULT_URL)
    name = f"joliba_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    url = f"{admin_url.rsplit('/', 1)[0]}/{name}"
    try:
        with tempfile.TemporaryDirectory(prefix="joliba-bench-tables-") as scratch:
            folder = Path(scratch)
            parquet, csv = make_files(folder, rows)
            mine, base = [], []
            for _ in range(3):
                mine.append(child(JOLIBA, str(parquet), url))
                assert count(url) == rows
                base.append(child(BASELINE, str(csv), url))
                assert count(url) == rows
            (folder / "fifth").mkdir()
            fifth, _ = make_files(folder / "fifth", rows // 5)
            smaller = child(JOLIBA, str(fifth), url)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    best = min(m["seconds"] for m in mine)
    baseline = min(b["seconds"] for b in base)
    peak = max(m["peak_mb"] for m in mine)
    print(f"\n== write_table: {rows:,} rows from Parquet into PostgreSQL ==")
    print(f"joliba write_table      {best:8.2f} s   {rows / best:12,.0f} rows/s")
    print(f"COPY of the same CSV    {baseline:8.2f} s   {rows / baseline:12,.0f} rows/s")
    print(f"ratio                   {best / baseline:8.2f} x   (goal ≤ 1.5 x)")
    print(f"peak memory, all rows   {peak:8.1f} MB")
    print(
        f"peak memory, a fifth    {smaller['peak_mb']:8.1f} MB   "
        f"(ratio {peak / smaller['peak_mb']:.2f} x, goal ≤ 1.3 x: flat with the rows)"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args()
    if args.small:
        os.environ["JOLIBA_BENCH_SMALL"] = "1"
    run(args.rows)


if __name__ == "__main__":
    main()
