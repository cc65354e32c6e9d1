"""A run whose parent (the runner) dies kills its whole process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.fixtures.waiting import eventually
from tests.sdk.helpers import platform_env, run_entry, write_pipeline

#: Lets a pipeline wait for the checks of the watchdog (``joliba.sdk.entry.watch_parent``),
#: which asks for the parent process's id at each of them.
WATCHDOG_CHECKS = """
import os

_CHECKS = threading.Semaphore(0)
_getppid = os.getppid

def _seen_by_the_watchdog():
    if threading.current_thread().name == "joliba-parent-watch":
        _CHECKS.release()
    return _getppid()

os.getppid = _seen_by_the_watchdog

def watchdog_checks(count):
    \"\"\"Whether the watchdog began `count` more checks (and so passed all but the last).\"\"\"
    return all(_CHECKS.acquire(timeout=20) for _ in range(count))
"""

SLEEPER = (
    WATCHDOG_CHECKS
    + """
import subprocess

@pipeline()
def sleeper():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with open("pids.tmp", "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    os.rename("pids.tmp", "pids.txt")
    if watchdog_checks(2):
        open("watched.txt", "w").close()
    time.sleep(60)
"""
)

# Stands in for the runner: starts the entry in a new session, then just waits.
RUNNER = """
import os, subprocess, sys, time
read_fd, write_fd = os.pipe()
env = dict(os.environ, JOLIBA_EVENTS_FD=str(write_fd), JOLIBA_PARENT_PID=str(os.getpid()))
proc = subprocess.Popen(
    [sys.executable, "-m", "joliba.sdk.entry"], cwd=sys.argv[1], env=env,
    stdin=subprocess.PIPE, pass_fds=(write_fd,), start_new_session=True,
)
proc.stdin.write(b'{"parameters": {}}')
proc.stdin.close()
print(proc.pid, flush=True)
time.sleep(120)
"""


def alive(pid: int) -> bool:
    """Running and not a zombie (an orphan's zombie may wait a while for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_the_run_dies_with_its_parent(tmp_path: Path) -> None:
    folder = write_pipeline(tmp_path / "code", SLEEPER)
    runner_file = tmp_path / "runner.py"
    runner_file.write_text(textwrap.dedent(RUNNER))
    env = platform_env(None, 0)
    env.pop("JOLIBA_EVENTS_FD")
    runner = subprocess.Popen(
        [sys.executable, str(runner_file), str(folder)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    pids: list[int] = []
    try:
        assert runner.stdout is not None
        entry_pid = int(runner.stdout.readline())
        pids.append(entry_pid)
        pid_file = folder / "pids.txt"
        eventually(pid_file.exists, timeout=20, message="the pipeline did not start")
        run_pid, sleeper_pid = (int(p) for p in pid_file.read_text().split())
        assert run_pid == entry_pid
        pids.append(sleeper_pid)
        assert alive(entry_pid) and alive(sleeper_pid)
        # The watchdog has looked at least once and left it running.
        watched = folder / "watched.txt"
        eventually(watched.exists, timeout=20, message="the watchdog never checked twice")
        assert alive(entry_pid)

        runner.kill()
        runner.wait(10)
        eventually(lambda: not alive(entry_pid) and not alive(sleeper_pid), timeout=5)
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        if runner.poll() is None:
            runner.kill()
            runner.wait()
        if runner.stdout is not None:
            runner.stdout.close()


def test_a_live_parent_given_by_pid_is_left_alone(tmp_path: Path) -> None:
    folder = write_pipeline(
        tmp_path,
        WATCHDOG_CHECKS
        + """
@pipeline()
def short():
    if watchdog_checks(3):  # it passed two checks at least
        current_run.log_info("survived")
""",
    )
    result = run_entry(folder, JOLIBA_PARENT_PID=str(os.getpid()))
    assert result.returncode == 0, result.stderr
    assert result.messages() == ["survived"]
