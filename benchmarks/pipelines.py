"""Pipeline runs through a real `joliba serve`: how fast a run starts, how many finish a minute,
how fast a cancel ends one.

1. Latency: trigger a trivial pipeline over the API (POST .../runs), then poll its logs until
   the pipeline's first line ("first line") is visible; against the time of a bare
   `python -c "import joliba"` subprocess measured in the same run (and `python -c pass`).
   Target: p50 at most 2x the interpreter-plus-import time.
2. Throughput: queue 200 trivial runs as fast as possible and time them until all have ended,
   for a few settings of JOLIBA_MAX_RUNS (= JOLIBA_MAX_RUNS_PER_WORKSPACE), each on a fresh
   server. Target: at least 600 runs per minute on 2 cores. Also prints the CPU time one run
   costs (server and pipeline process, from /proc) and the rate that allows on 2 idle cores,
   which holds even when other work shares the machine.
3. Cancel: start a pipeline that starts a child process and sleeps, wait for its first line,
   then time POST .../cancel until the run shows "cancelled" (its process stopped, its events
   delivered); against ending a bare `python -c "import joliba; ..."` sleeper with SIGTERM,
   measured in the same run. Target: p50 at most 10 s (what the API tests once asserted).

The servers log at warning level, as in run.py (no access log line per poll).

Usage: python benchmarks/pipelines.py [--runs 20] [--throughput 200] [--slots 2,4,8] [--poll 0.005]
       [--cancels 10]
Set JOLIBA_BENCH_KEEP=1 to keep the temporary folder (server logs, databases).
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

WS = "bench"
CODE = "first-line"
FIRST_LINE = "first line"
POLL = 0.005  # default seconds between log polls while waiting for the first line
LATENCY_TARGET = 2.0  # p50 at most this many times python + import joliba
THROUGHPUT_TARGET = 600  # runs per minute
CANCEL_TARGET = 10.0  # seconds from the cancel request to the run shown cancelled, p50
FINISHED = ("succeeded", "failed", "cancelled", "timed_out", "skipped")

PIPELINE = """\
from joliba import current_run, pipeline


@pipeline(name="First line")
def first_line():
    current_run.log_info("first line")
"""

SLEEPER_CODE = "sleeper"
SLEEPER = """\
import subprocess, sys, time
from joliba import current_run, pipeline


@pipeline(name="Sleeper")
def sleeper():
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    current_run.log_info("first line")
    time.sleep(300)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]


def time_subprocess(code: str) -> float:
    """Wall time of one `python -c CODE`, in the environment the benchmark runs in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - t0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    api: httpx.Client
    home: Path
    log: Path


def _cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "joliba.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout


@contextmanager
def serve(work: Path, name: str, **settings: str) -> Iterator[Server]:
    """A fresh JOLIBA_HOME with a user, workspace, token and the trivial pipeline; then serve."""
    with fresh_server(work, name, **settings) as server:
        push(server.api)
        yield server


@contextmanager
def fresh_server(
    work: Path, name: str, *, timeout: float = 120, **settings: str
) -> Iterator[Server]:
    """``joliba serve`` on a fresh JOLIBA_HOME (SQLite, local storage) with a user,
    workspace and token; stopped on exit."""
    home = work / name
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    env.update(
        JOLIBA_HOME=str(home),
        JOLIBA_PACKAGE_INDEX_URL="none",
        JOLIBA_BASE_URL=f"http://127.0.0.1:{port}",
        JOLIBA_LOG_LEVEL="warning",
        **{f"JOLIBA_{k.upper()}": v for k, v in settings.items()},
    )
    _cli(env, "users", "create", "bench@example.org", "--password", "Bench-pass-42", "--superuser")
    _cli(env, "workspaces", "create", "Bench", "--slug", WS, "--admin", "bench@example.org")
    token = _cli(env, "tokens", "create", "bench@example.org").split()[-1]
    log = work / f"{name}.log"
    api = httpx.Client(
        base_url=f"http://127.0.0.1:{port}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=timeout,
    )
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "joliba.cli.main", "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                api.get("/health").raise_for_status()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start:\n{log.read_text()}") from None
                time.sleep(0.05)
        yield Server(process, api, home, log)
    finally:
        api.close()
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def push(api: httpx.Client, code: str = CODE, source: str = PIPELINE) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("pipeline.py", source)
    response = api.post(
        f"/workspaces/{WS}/pipelines/{code}/versions",
        content=buffer.getvalue(),
        headers={"Content-Type": "application/zip"},
        timeout=300,
    )
    if response.status_code != 201:
        raise RuntimeError(f"push failed: {response.status_code} {response.text}")


def trigger(api: httpx.Client, code: str = CODE) -> str:
    response = api.post(f"/workspaces/{WS}/pipelines/{code}/runs", json={"parameters": {}})
    if response.status_code != 201:
        raise RuntimeError(f"could not start a run: {response.status_code} {response.text}")
    return str(response.json()["id"])


def wait_ended(
    api: httpx.Client, run_id: str, timeout: float = 120, poll: float = 0.02
) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        run = dict(api.get(f"/workspaces/{WS}/runs/{run_id}").json())
        if run["state"] in FINISHED:
            return run
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} still {run['state']} after {timeout} s")
        time.sleep(poll)


@dataclass
class Timing:
    total: float  # POST sent → first poll showing the line
    claimed: float  # POST sent → the runner marked the run running (server clock)
    child: float  # running → the pipeline wrote its line (SDK event time)
    relayed: float  # line written → first poll showing it (relay, commit, poll)


def _epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def wait_first_line(api: httpx.Client, run_id: str, poll: float) -> dict[str, Any]:
    """The run's log line FIRST_LINE, polling its log every ``poll`` seconds until it is there."""
    after = 0
    deadline = time.perf_counter() + 120
    while True:
        page = api.get(f"/workspaces/{WS}/runs/{run_id}/logs", params={"after": after}).json()
        line = next((item for item in page["items"] if item["message"] == FIRST_LINE), None)
        if line is not None:
            return dict(line)
        if page["finished"]:
            raise RuntimeError(f"run {run_id} ended {page['state']} without its first line")
        if time.perf_counter() > deadline:
            raise RuntimeError(f"run {run_id}: no first line after 120 s")
        after = page["next_after"]
        time.sleep(poll)


def first_line_latency(api: httpx.Client, poll: float) -> Timing:
    """Time from just before the POST to the first poll that shows the first line."""
    wall0 = time.time()
    t0 = time.perf_counter()
    run_id = trigger(api)
    line = wait_first_line(api, run_id, poll)
    total = time.perf_counter() - t0
    seen = wall0 + total
    run = wait_ended(api, run_id)  # one run at a time: the next starts on an idle server
    if run["state"] != "succeeded":
        raise RuntimeError(f"run {run_id} ended {run['state']}: {run.get('error')}")
    started, written = _epoch(str(run["started_at"])), _epoch(line["at"])
    return Timing(total, started - wall0, written - started, seen - written)


def latency(work: Path, n: int, poll: float = POLL) -> dict[str, float]:
    baseline_pass: list[float] = []
    baseline_import: list[float] = []
    timings: list[Timing] = []
    with serve(work, "latency") as server:
        time_subprocess("import joliba")  # warm-ups, not counted: page cache, first requests
        first_line_latency(server.api, poll)
        for _ in range(n):  # interleaved, so that other load on the machine hits all alike
            baseline_pass.append(time_subprocess("pass"))
            baseline_import.append(time_subprocess("import joliba"))
            timings.append(first_line_latency(server.api, poll))
    measured = [t.total for t in timings]
    p50 = statistics.median(measured)
    base = statistics.median(baseline_import)

    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1000:.0f} ms"

    print(
        f"pipeline trigger → first line, {n} sequential runs (after 1 warm-up run), "
        "each after one python -c pass and one python -c 'import joliba'"
    )
    print(
        f"  p50 {p50 * 1000:5.0f} ms  p95 {percentile(measured, 95) * 1000:5.0f} ms  "
        f"min {min(measured) * 1000:5.0f} ms  max {max(measured) * 1000:5.0f} ms  "
        f"ratio {p50 / base:5.2f} x python + import joliba ({base * 1000:.0f} ms)  "
        f"target ≤ {LATENCY_TARGET:.0f} x {'met' if p50 <= LATENCY_TARGET * base else 'MISSED'}"
    )
    print(
        f"  python -c pass p50 {statistics.median(baseline_pass) * 1000:.0f} ms; "
        f"logs polled every {poll * 1000:g} ms (plus a request each), which adds up to "
        "that much to each figure"
    )
    print(
        f"  p50 of the parts: POST → claimed {ms([t.claimed for t in timings])}, "
        f"claimed → line written by the pipeline {ms([t.child for t in timings])} "
        f"(read run, Popen, interpreter, imports), written → seen "
        f"{ms([t.relayed for t in timings])} (relay, commit, poll)"
    )
    return {"p50": p50, "baseline": base}


def cancel_once(api: httpx.Client, poll: float) -> float:
    """Seconds from the cancel request of a running sleeper to the run shown cancelled."""
    run_id = trigger(api, SLEEPER_CODE)
    wait_first_line(api, run_id, poll)  # its code runs, and its child process with it
    t0 = time.perf_counter()
    response = api.post(f"/workspaces/{WS}/runs/{run_id}/cancel")
    if response.status_code != 200:
        raise RuntimeError(f"could not cancel: {response.status_code} {response.text}")
    run = wait_ended(api, run_id, poll=poll)
    elapsed = time.perf_counter() - t0
    if run["state"] != "cancelled":
        raise RuntimeError(f"run {run_id} ended {run['state']}, not cancelled: {run.get('error')}")
    return elapsed


def time_terminate() -> float:
    """Baseline: SIGTERM to a started `python -c "import joliba; ..."` sleeper, until it exited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JOLIBA_")}
    code = "import joliba, time; print('ready', flush=True); time.sleep(300)"
    process = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE)
    assert process.stdout is not None
    process.stdout.readline()
    t0 = time.perf_counter()
    process.terminate()
    process.wait(timeout=60)
    elapsed = time.perf_counter() - t0
    process.stdout.close()
    return elapsed


def cancel_latency(work: Path, n: int, poll: float = POLL) -> dict[str, float]:
    baseline: list[float] = []
    measured: list[float] = []
    with serve(work, "cancel") as server:
        push(server.api, SLEEPER_CODE, SLEEPER)
        time_terminate()  # warm-ups, not counted
        cancel_once(server.api, poll)
        for _ in range(n):  # interleaved, so that other load on the machine hits both alike
            baseline.append(time_terminate())
            measured.append(cancel_once(server.api, poll))
    p50 = statistics.median(measured)
    base = statistics.median(baseline)
    print(f"pipeline cancel → cancelled, {n} runs one by one (after 1 warm-up run)")
    print(
        f"  p50 {p50 * 1000:5.0f} ms  p95 {percentile(measured, 95) * 1000:5.0f} ms  "
        f"max {max(measured) * 1000:5.0f} ms  "
        f"ratio {p50 / base:6.1f} x SIGTERM to a bare python sleeper ({base * 1000:.1f} ms)  "
        f"target ≤ {CANCEL_TARGET:.0f} s {'met' if p50 <= CANCEL_TARGET else 'MISSED'}"
    )
    print(
        f"  the runner signals the run's process group, waits for it and marks the run; "
        f"states polled every {poll * 1000:g} ms"
    )
    return {"p50": p50, "baseline": base}


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU time of a process itself, and of its children it has waited for (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def throughput_once(server: Server, n: int) -> tuple[float, float, dict[str, int]]:
    """Queue n runs as fast as possible; seconds until all ended, seconds spent POSTing."""
    api = server.api
    t0 = time.perf_counter()
    for _ in range(n):
        trigger(api)
    posted = time.perf_counter() - t0
    deadline = t0 + 1800
    waiting = "queued"  # runs are claimed in order: once none is queued, wait for the running
    while True:
        page = api.get(f"/workspaces/{WS}/runs", params={"state": waiting, "page_size": 1})
        if int(page.json()["total"]) == 0:
            if waiting == "running":
                elapsed = time.perf_counter() - t0
                break
            waiting = "running"
            continue
        if time.perf_counter() > deadline:
            raise RuntimeError(f"runs still {waiting} after 30 min")
        time.sleep(0.1)  # few requests: the server's CPU is what is measured
    ended = {}
    for state in FINISHED:
        page = api.get(f"/workspaces/{WS}/runs", params={"state": state, "page_size": 1})
        if total := int(page.json()["total"]):
            ended[state] = total
    return elapsed, posted, ended


def throughput(work: Path, n: int, slot_choices: list[int]) -> dict[str, float]:
    print(f"pipeline throughput, {n} trivial runs queued at once, fresh server per setting")
    results: list[tuple[float, int]] = []
    costs: list[float] = []
    load = os.getloadavg()[0]
    for slots in slot_choices:
        with serve(
            work, f"throughput-{slots}", max_runs=str(slots), max_runs_per_workspace=str(slots)
        ) as server:
            own0, children0 = cpu_seconds(server.process.pid)
            elapsed, posted, ended = throughput_once(server, n)
            own1, children1 = cpu_seconds(server.process.pid)
        per_minute = n / elapsed * 60
        own, children = (own1 - own0) / n, (children1 - children0) / n
        results.append((per_minute, slots))
        costs.append(own + children)
        failed = {k: v for k, v in ended.items() if k != "succeeded"}
        print(
            f"  {slots:2d} slots  {per_minute:6.0f} runs/min  {elapsed:6.2f} s "
            f"(queuing took {posted:.2f} s)  CPU per run: server {own * 1000:.0f} ms + "
            f"pipeline process {children * 1000:.0f} ms  {ended.get('succeeded', 0)} succeeded"
            + (f", NOT SUCCEEDED: {failed}" if failed else "")
        )
    best, slots = max(results)
    cost = statistics.median(costs)
    print(
        f"  best {best:.0f} runs/min ({n} runs, {slots} slots = MAX_RUNS = MAX_RUNS_PER_WORKSPACE, "
        f"{os.cpu_count()} CPUs)  target ≥ {THROUGHPUT_TARGET} "
        f"{'met' if best >= THROUGHPUT_TARGET else 'MISSED'}"
    )
    print(
        f"  CPU bound: {cost * 1000:.0f} ms of CPU per run allows at most "
        f"{2 * 60 / cost:.0f} runs/min on 2 idle cores "
        f"(load average when starting: {load:.1f})"
    )
    return {"best": best, "slots": slots, "cpu_per_run": cost}


def run(
    runs: int = 20,
    queued: int = 200,
    slots: tuple[int, ...] = (2, 4, 8),
    poll: float = POLL,
    cancels: int = 10,
) -> None:
    """The pipeline benchmarks; called by benchmarks/run.py."""
    work = Path(tempfile.mkdtemp(prefix="joliba-bench-pipelines-"))
    try:
        if runs:
            latency(work, runs, poll)
        if queued:
            throughput(work, queued, list(slots))
        if cancels:
            cancel_latency(work, cancels, poll)
    finally:
        if os.environ.get("JOLIBA_BENCH_KEEP"):
            print(f"  (kept {work})", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="sequential runs for latency")
    parser.add_argument("--throughput", type=int, default=200, help="runs queued at once")
    parser.add_argument("--slots", default="2,4,8", help="MAX_RUNS settings to try")
    parser.add_argument("--poll", type=float, default=POLL, help="seconds between log polls")
    parser.add_argument("--cancels", type=int, default=10, help="runs cancelled one by one")
    args = parser.parse_args()
    slots = tuple(int(s) for s in args.slots.split(",") if s)
    run(args.runs, args.throughput, slots, args.poll, args.cancels)


if __name__ == "__main__":
    main()
