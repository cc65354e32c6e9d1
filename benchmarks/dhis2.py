"""DHIS2 extraction: about 1,000,000 data values from the emulator into Parquet.

`joliba dhis2 emulator` runs as its own process (uvicorn). The same selection — every monthly
data set, the 72 districts with their facilities (children=true), four months of last year —
is extracted twice, each in a fresh Python process so that its peak memory (VmHWM) is its own:

- naive: one district at a time, `httpx.get(.../api/dataValueSets.json)`, `response.json()`,
  every row kept in a list, `pandas.DataFrame(rows).to_parquet(...)` at the end;
- Joliba: `DHIS2(url, ...).data_value_sets_to_parquet(path, datasets=..., org_units=districts,
  children=True, start_date=..., end_date=...)`.

Both must write the same number of values. Printed: values, seconds, values/s and peak MB of
each, and the ratio. Goals: Joliba ≥ 5 x the naive values/s, and its peak memory the same
(within 25 %) for three times the months (about 3,000,000 values, Joliba only) as for the
1,000,000. Times count from the first request to the Parquet file written, not the
interpreter's start. MB are 10^6 bytes.

Usage: python benchmarks/dhis2.py [--months 4] [--small]
--small (or JOLIBA_BENCH_SMALL=1): one month, for a quick check (about 250,000 and 750,000).
Set JOLIBA_BENCH_KEEP=1 to keep the temporary folder (Parquet files, emulator log).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
from datasets import small, status_mb, verdict
from pipelines import cpu_seconds, free_port

MONTHS = 4
SMALL_MONTHS = 1
SPEED_GOAL = 5.0  # Joliba at least this many times the naive values per second
MEMORY_SLACK = 1.25  # Joliba's peak for 3 x the values within this factor
AUTH = ("admin", "district")


@dataclass
class Selection:
    url: str
    datasets: list[str]
    districts: list[str]
    start: str
    end: str


@contextmanager
def emulator(work: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`joliba dhis2 emulator` on a free port; stopped on exit."""
    port = free_port()
    log = work / "emulator.log"
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "joliba.cli.main", "dhis2", "emulator", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{url}/api/system/ping").raise_for_status()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the emulator did not start:\n{log.read_text()}") from None
                time.sleep(0.05)
        yield url, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def selection(url: str, months: int) -> Selection:
    """Every monthly data set, all districts, the first ``months`` months of last year."""
    with httpx.Client(base_url=url, auth=AUTH, timeout=60) as dhis2:
        sets = dhis2.get(
            "/api/dataSets", params={"fields": "id,periodType", "paging": "false"}
        ).json()["dataSets"]
        districts = dhis2.get(
            "/api/organisationUnits", params={"level": 3, "fields": "id", "paging": "false"}
        ).json()["organisationUnits"]
    year = date.today().year - 1
    last = date(year, months + 1, 1) if months < 12 else date(year + 1, 1, 1)
    return Selection(
        url=url,
        datasets=[s["id"] for s in sets if s["periodType"] == "Monthly"],
        districts=[d["id"] for d in districts],
        start=f"{year}-01-01",
        end=date.fromordinal(last.toordinal() - 1).isoformat(),
    )


# -- the two clients, each run in a child process ----------------------------------------------


def naive(chosen: Selection, path: Path) -> int:
    rows: list[dict[str, Any]] = []
    for district in chosen.districts:
        params = [("dataSet", d) for d in chosen.datasets] + [
            ("orgUnit", district),
            ("children", "true"),
            ("startDate", chosen.start),
            ("endDate", chosen.end),
        ]
        response = httpx.get(
            f"{chosen.url}/api/dataValueSets.json", params=params, auth=AUTH, timeout=600
        )
        response.raise_for_status()
        rows += response.json().get("dataValues", [])
    import pandas

    pandas.DataFrame(rows).to_parquet(path)
    return len(rows)


def joliba(chosen: Selection, path: Path) -> int:
    from joliba.dhis2.client import DHIS2

    dhis2 = DHIS2(chosen.url, username=AUTH[0], password=AUTH[1], timeout=600)
    summary = dhis2.data_value_sets_to_parquet(
        path,
        datasets=chosen.datasets,
        org_units=chosen.districts,
        children=True,
        start_date=chosen.start,
        end_date=chosen.end,
    )
    return int(summary.values)


CLIENTS = {"naive": naive, "joliba": joliba}


def child(kind: str, spec: str, path: Path) -> None:
    """One extraction; prints values, seconds and memory as JSON."""
    chosen = Selection(**json.loads(spec))
    if kind == "naive":
        import pandas  # noqa: F401 (imported before the clock starts, as Joliba's modules are)
    else:
        import joliba.dhis2.client  # noqa: F401
    idle = status_mb("self", "VmHWM")
    t0 = time.perf_counter()
    values = CLIENTS[kind](chosen, path)
    seconds = time.perf_counter() - t0
    peak = status_mb("self", "VmHWM")
    print(json.dumps({"values": values, "seconds": seconds, "peak_mb": peak, "idle_mb": idle}))


def extract(kind: str, chosen: Selection, path: Path) -> dict[str, float]:
    spec = json.dumps(chosen.__dict__)
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, spec, str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the {kind} extraction failed:\n{out.stderr[-4000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -----------------------------------------------------------------------------------------------


def line(name: str, result: dict[str, float]) -> str:
    rate = result["values"] / result["seconds"]
    return (
        f"  {name:7s} {result['seconds']:7.2f} s  {rate:11,.0f} values/s  "
        f"peak {result['peak_mb']:6.0f} MB (after imports {result['idle_mb']:.0f} MB)  "
        f"emulator CPU {result['server_cpu']:.2f} s"
    )


def compare(chosen: Selection, work: Path, label: str, server: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for kind in ("naive", "joliba"):
        before = cpu_seconds(server)[0]
        results[kind] = extract(kind, chosen, work / f"{label}-{kind}.parquet")
        results[kind]["server_cpu"] = cpu_seconds(server)[0] - before
    count = int(results["naive"]["values"])
    if int(results["joliba"]["values"]) != count:
        raise RuntimeError(
            f"naive wrote {count:,} values but Joliba {int(results['joliba']['values']):,}"
        )
    speed = (results["joliba"]["values"] / results["joliba"]["seconds"]) / (
        count / results["naive"]["seconds"]
    )
    print(
        f"DHIS2 extraction, {label}: {count:,} values ({len(chosen.datasets)} data sets, "
        f"{len(chosen.districts)} districts with their facilities, {chosen.start}..{chosen.end})"
    )
    print(line("naive", results["naive"]))
    print(line("Joliba", results["joliba"]))
    print(
        f"  ratio {speed:5.2f} x the naive values/s  goal ≥ {SPEED_GOAL:.0f} x "
        f"{verdict(speed >= SPEED_GOAL)}; memory {results['joliba']['peak_mb']:.0f} MB against "
        f"{results['naive']['peak_mb']:.0f} MB"
    )
    return results


def run(months: int | None = None) -> None:
    """Both sizes; called by benchmarks/run.py (JOLIBA_BENCH_SMALL=1: one month)."""
    months = months or (SMALL_MONTHS if small() else MONTHS)
    work = Path(tempfile.mkdtemp(prefix="joliba-bench-dhis2-"))
    try:
        with emulator(work) as (url, process):
            chosen = selection(url, months)
            full = compare(chosen, work, "all districts", process.pid)
            # Three times the months, Joliba only (the naive client would need ~6 GB).
            longer = selection(url, min(12, 3 * months))
            more = extract("joliba", longer, work / "longer-joliba.parquet")
            server_peak = status_mb(process.pid, "VmHWM")
        low, high = full["joliba"]["peak_mb"], more["peak_mb"]
        grows = more["values"] / full["joliba"]["values"]
        print(
            f"  Joliba, {longer.start}..{longer.end}: {int(more['values']):,} values in "
            f"{more['seconds']:.2f} s ({more['values'] / more['seconds']:,.0f} values/s)"
        )
        print(
            f"  Joliba's peak memory {low:.0f} MB → {high:.0f} MB for {grows:.1f} x the values  "
            f"goal: does not grow (≤ {MEMORY_SLACK} x) {verdict(high <= low * MEMORY_SLACK)}"
        )
        print(f"  emulator peak memory {server_peak:.0f} MB (it streams; values are not stored)")
    finally:
        if os.environ.get("JOLIBA_BENCH_KEEP"):
            print(f"  (kept {work})", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--months", type=int, default=None, help=f"months (default {MONTHS})")
    parser.add_argument(
        "--small", action="store_true", help=f"{SMALL_MONTHS} month (also JOLIBA_BENCH_SMALL=1)"
    )
    parser.add_argument("--child", nargs=3, metavar=("KIND", "SELECTION", "PATH"), help="internal")
    args = parser.parse_args()
    if args.child:
        kind, spec, path = args.child
        child(kind, spec, Path(path))
        return
    if args.small:
        os.environ["JOLIBA_BENCH_SMALL"] = "1"
    run(args.months)


if __name__ == "__main__":
    main()
