"""Per-run pids groups survive another server on the same machine sweeping at its start."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest

from joliba.builds import process_group
from tests.conftest import CI


@pytest.fixture
def group() -> process_group.ProcessGroup:
    if not process_group.available():
        reason = "no pids cgroup can be made here (not root, or no cgroup v1 pids)"
        if CI and process_group.needed():
            pytest.fail(f"{reason} (CI=true, as root: runs need one)")
        pytest.skip(reason)
    made = process_group.ProcessGroup.create(f"test-{uuid.uuid4().hex[:12]}", 16)
    assert made is not None
    return made


def test_a_fresh_empty_group_is_left_by_a_sweep(group: process_group.ProcessGroup) -> None:
    process_group.sweep()  # as another server starting now
    assert group.path.is_dir()
    group.remove()
    assert not group.path.exists()


def test_a_group_swept_before_its_run_joined_is_made_again(
    group: process_group.ProcessGroup,
) -> None:
    group.path.rmdir()  # what an older sweep did to a group still empty
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        group.add(child.pid)
        assert str(child.pid) in (group.path / "cgroup.procs").read_text().split()
        assert (group.path / "pids.max").read_text().strip() == "16"
    finally:
        child.kill()
        child.wait()
        group.remove()
    assert not group.path.exists()
