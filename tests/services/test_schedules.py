"""Schedules: time-zone-aware slots, overlap policies, and one run per slot across servers."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from joliba.db.tables import PipelineRun, PipelineSchedule
from joliba.domain.errors import Invalid
from joliba.domain.runs import RunState
from joliba.domain.schedules import check_cron, next_slot
from joliba.services import schedules
from joliba.services.platform import Platform
from tests.conftest import World
from tests.fixtures.waiting import eventually
from tests.pipeline_helpers import push


def test_slots_follow_the_wall_clock_of_the_time_zone() -> None:
    after = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    # 06:00 in Niamey (UTC+1, no daylight saving) is 05:00 UTC.
    assert next_slot("0 6 * * *", "Africa/Niamey", after) == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    # Paris moves to summer time on 29 March 2026: 06:00 local is 04:00 UTC that day.
    assert next_slot("0 6 * * *", "Europe/Paris", after) == datetime(2026, 3, 29, 4, 0, tzinfo=UTC)
    assert next_slot("0 6 * * *", "Europe/Paris", datetime(2026, 3, 27, 12, tzinfo=UTC)) == (
        datetime(2026, 3, 28, 5, 0, tzinfo=UTC)
    )
    assert check_cron("  */15  *  * * 1-5 ") == "*/15 * * * 1-5"
    for bad in ("61 * * * *", "* * * *", "every day"):
        with pytest.raises(Invalid, match="cron"):
            check_cron(bad)
    with pytest.raises(Invalid, match="time_zone"):
        next_slot("0 6 * * *", "Mars/Olympus", after)


def _setup(world: World, overlap: str = "skip") -> str:
    admin = world.person()
    ws = world.workspace(admin)
    push(
        admin.api,
        ws,
        "nightly",
        """
from joliba import current_run, parameter, pipeline

@pipeline(name="Nightly")
@parameter("label", type=str, default="x")
def nightly(label):
    current_run.log_info(label)
""",
    )
    response = admin.api.post(
        f"/workspaces/{ws}/pipelines/nightly/schedules",
        json={
            "cron": "0 3 * * *",
            "time_zone": "Africa/Bamako",
            "parameters": {"label": "night"},
            "overlap": overlap,
            "enabled": False,
        },
    )
    assert response.status_code == 201, response.text
    bad = admin.api.post(
        f"/workspaces/{ws}/pipelines/nightly/schedules",
        json={"cron": "0 3 * * *", "parameters": {"label": 5}},
    )
    assert bad.status_code == 400 and "label" in bad.json()["error"]["message"]
    return str(response.json()["id"])


def _make_due(platform: Platform, schedule_id: str, when: datetime) -> None:
    with platform.db.transaction() as session:
        schedule = session.get(PipelineSchedule, uuid.UUID(schedule_id))
        assert schedule is not None
        schedule.next_at = when
        schedule.enabled = True


def test_a_slot_fires_once_even_with_several_servers_racing(world: World) -> None:
    platform = world.platform
    schedule_id = _setup(world)
    slot = datetime.now(UTC) + timedelta(days=3650)  # far ahead: the live runner leaves it
    _make_due(platform, schedule_id, slot)
    now = slot + timedelta(seconds=1)
    barrier = threading.Barrier(4)
    fired: list[int] = []
    with platform.db.session(write=False) as session:
        found = session.get(PipelineSchedule, uuid.UUID(schedule_id))
        assert found is not None
        pipeline_id = found.pipeline_id

    def server() -> None:
        barrier.wait()
        with platform.db.transaction() as session:
            runs_ = schedules.fire_due(session, platform.box, default_timeout=60, now=now)
            # Other tests' far-future schedules may be due too: count this one's runs.
            fired.append(sum(1 for r in runs_ if r.pipeline_id == pipeline_id))

    threads = [threading.Thread(target=server) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(fired) == [0, 0, 0, 1]
    with platform.db.session(write=False) as session:
        schedule = session.get(PipelineSchedule, uuid.UUID(schedule_id))
        assert schedule is not None
        # The next slot is 03:00 in Bamako (UTC+0) after the moment it fired.
        assert schedule.next_at == next_slot("0 3 * * *", "Africa/Bamako", now)
        runs_ = session.scalars(
            select(PipelineRun).where(PipelineRun.pipeline_id == schedule.pipeline_id)
        ).all()
    assert len(runs_) == 1
    assert runs_[0].parameters == {"label": "night"}
    assert "0 3 * * *" in runs_[0].trigger_detail


def test_overlap_skip_records_a_skipped_run_and_queue_queues(world: World) -> None:
    platform = world.platform
    for overlap, expected in (("skip", RunState.SKIPPED), ("queue", RunState.QUEUED)):
        schedule_id = _setup(world, overlap)
        slot = datetime.now(UTC) + timedelta(days=3650)
        _make_due(platform, schedule_id, slot)
        with platform.db.transaction() as session:
            schedule = session.get(PipelineSchedule, uuid.UUID(schedule_id))
            assert schedule is not None
            fired = schedules.fire_due(session, platform.box, default_timeout=60, now=slot)
            # Other tests' far-future schedules may be due by then too: keep this one's.
            first = [r for r in fired if r.pipeline_id == schedule.pipeline_id]
            assert [r.state for r in first] == [RunState.QUEUED]
            # Keep the first run queued (due tomorrow), and let the next slot come meanwhile.
            first[0].not_before = slot + timedelta(days=1)
            schedule.next_at = slot + timedelta(hours=1)
        with platform.db.transaction() as session:
            fired = schedules.fire_due(
                session, platform.box, default_timeout=60, now=slot + timedelta(hours=1)
            )
            # Other tests' far-future schedules may come due in that hour: keep this one's.
            second = [r for r in fired if r.pipeline_id == first[0].pipeline_id]
            assert [r.state for r in second] == [expected], overlap
            if expected == RunState.SKIPPED:
                assert "previous run had not finished" in second[0].error
            for run in (*first, *second):
                session.merge(run).state = RunState.CANCELLED


def test_a_due_schedule_runs_through_the_live_runner(world: World) -> None:
    platform = world.platform
    schedule_id = _setup(world)
    _make_due(platform, schedule_id, datetime.now(UTC) - timedelta(seconds=1))
    platform.signals.queued()

    def schedule_runs() -> list[PipelineRun]:
        with platform.db.session(write=False) as session:
            schedule = session.get(PipelineSchedule, uuid.UUID(schedule_id))
            assert schedule is not None
            return list(
                session.scalars(
                    select(PipelineRun).where(PipelineRun.pipeline_id == schedule.pipeline_id)
                ).all()
            )

    def first_succeeded() -> list[PipelineRun] | None:
        found = schedule_runs()
        return found if found and found[0].state == RunState.SUCCEEDED else None

    admin_runs = eventually(
        first_succeeded,
        timeout=30,
        interval=0.1,
        message=lambda: f"the schedule's runs: {[r.state for r in schedule_runs()]}",
    )
    assert [r.state for r in admin_runs] == [RunState.SUCCEEDED]
    assert admin_runs[0].trigger == "schedule"
