"""The process executor's loop: claim due runs at once, renew leases, reap lost runs.

``joliba serve`` starts one :class:`Runner`. It wakes when the API queues a run (through
:class:`~joliba.services.run_signals.RunSignals`), so runs start without a polling delay;
it also polls every few seconds for runs queued by other servers and retries coming due.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

from joliba.builds import process_group
from joliba.builds.versions import code_cache_for, environments_for
from joliba.domain.runs import RunState
from joliba.runner.notifier import Notifier
from joliba.runner.process import RunProcess, new_executor_id
from joliba.services import retention, runs, schedules
from joliba.services.platform import Platform

log = logging.getLogger("joliba.runner")

#: Longest sleep between looks at the queue (runs queued by another server, due retries).
POLL_SECONDS = 2.0
#: How often old runs are pruned (JOLIBA_RUN_RETENTION_DAYS).
PRUNE_SECONDS = 3600.0


class Runner:
    def __init__(self, platform: Platform, *, executor: str | None = None) -> None:
        settings = platform.settings
        self.platform = platform
        self.executor = executor or new_executor_id()
        self.slots = settings.max_runs
        self.per_workspace = settings.max_runs_per_workspace
        self.lease = timedelta(seconds=settings.run_lease_seconds)
        self.beat_every = settings.run_lease_seconds / 4
        self.environments = environments_for(settings)
        self.code = code_cache_for(settings)
        self.notifier = Notifier(platform)
        self.retention_days = settings.run_retention_days
        self._active: dict[uuid.UUID, RunProcess] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- RunListener ------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def cancel(self, run_id: uuid.UUID) -> None:
        with self._lock:
            process = self._active.get(run_id)
        if process is not None:
            process.cancel()

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        process_group.sweep()
        self.platform.signals.subscribe(self)
        self.notifier.start()
        self._thread = threading.Thread(target=self._loop, name="joliba-runner", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming, stop the runs in progress (they end failed and may be retried)."""
        self.platform.signals.unsubscribe(self)
        self._stopping.set()
        self._wake.set()
        with self._lock:
            active = list(self._active.values())
        for process in active:
            process.cancel("the server is shutting down")
        for process in active:
            process.thread.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        self.notifier.stop()

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._active)

    # -- the loop -------------------------------------------------------------------------------

    def _loop(self) -> None:
        next_beat = next_reap = next_prune = next_schedules = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            wait = POLL_SECONDS
            try:
                now = time.monotonic()
                if now >= next_beat:
                    self._heartbeat()
                    next_beat = now + self.beat_every
                if now >= next_reap:
                    self._reap()
                    next_reap = now + self.beat_every
                if now >= next_prune:
                    self._prune()
                    next_prune = now + PRUNE_SECONDS
                if now >= next_schedules:
                    upcoming = self._fire_schedules()
                    # Look again when the next slot comes, or after a poll for new schedules.
                    next_schedules = now + POLL_SECONDS
                    if upcoming is not None:
                        wait_for = (upcoming - datetime.now(UTC)).total_seconds()
                        next_schedules = min(next_schedules, now + max(0.0, wait_for))
                else:
                    upcoming = None
                due = self._claim()
                due = min((d for d in (due, upcoming) if d is not None), default=None)
                if due is not None:
                    wait = min(wait, max(0.0, (due - datetime.now(UTC)).total_seconds()))
                wait = min(wait, max(0.0, next_beat - time.monotonic()))
            except Exception:  # a database hiccup must not stop the runner for good
                log.exception("runner loop failed; retrying")
                wait = POLL_SECONDS
            self._wake.wait(wait)

    def _claim(self) -> datetime | None:
        """Start what is due; return when the next queued run becomes due, if any."""
        while not self._stopping.is_set():
            free = self.slots - self.active
            if free <= 0:
                return None
            with self.platform.db.transaction() as session:
                claimed = runs.claim(
                    session, executor=self.executor, slots=free, per_workspace=self.per_workspace
                )
                due = runs.next_due(session)
            for item in claimed:
                self._start(item)
            if len(claimed) < free:
                return due
        return None

    def _fire_schedules(self) -> datetime | None:
        """Queue the runs of schedules whose slot has come; return the next slot."""
        with self.platform.db.transaction() as session:
            fired = schedules.fire_due(
                session,
                self.platform.box,
                default_timeout=self.platform.settings.run_timeout_seconds,
            )
            upcoming = schedules.next_due(session)
        for run in fired:
            log.info("schedule queued run %s (%s)", run.id, run.state)
            if run.state == RunState.SKIPPED:
                self.notifier.run_ended(run.id)
        return upcoming

    def _prune(self) -> None:
        if self.retention_days <= 0:
            return
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        total = 0
        while not self._stopping.is_set():
            with self.platform.db.transaction() as session:
                count = retention.prune_runs(session, finished_before=cutoff)
            total += count
            if count == 0:
                break
        if total:
            log.info("deleted %d runs finished before %s", total, cutoff.date())

    def _start(self, claimed: runs.Claimed) -> None:
        process = RunProcess(
            self.platform,
            claimed,
            executor=self.executor,
            environments=self.environments,
            code=self.code,
            on_end=self._ended,
        )
        with self._lock:
            self._active[claimed.run_id] = process
        process.start()

    def _ended(self, process: RunProcess, ended: runs.Ended | None) -> None:
        with self._lock:
            self._active.pop(process.run_id, None)
        if ended is not None:
            log.info("run %s %s", ended.run.id, ended.run.state)
            self.notifier.run_ended(ended.run.id)
        self._wake.set()  # a slot is free, and a retry or a triggered run may be queued

    def _heartbeat(self) -> None:
        with self._lock:
            ids = list(self._active)
        if not ids:
            return
        with self.platform.db.transaction() as session:
            beat = runs.heartbeat(session, executor=self.executor, run_ids=ids)
        with self._lock:
            for run_id in beat.cancel:
                if run_id in self._active:
                    self._active[run_id].cancel()
            for run_id in beat.lost:
                if run_id in self._active:
                    log.warning("run %s: lease lost, stopping it", run_id)
                    self._active[run_id].lose()

    def _reap(self) -> None:
        settings = self.platform.settings
        with self.platform.db.transaction() as session:
            ended = runs.reap(
                session,
                self.platform.box,
                lease=self.lease,
                default_timeout=settings.run_timeout_seconds,
            )
        for item in ended:
            log.warning("run %s failed: its executor stopped renewing its lease", item.run.id)
            self.notifier.run_ended(item.run.id)
        if any(e.queued for e in ended):
            self._wake.set()
