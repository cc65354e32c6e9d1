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

from joliba.runner.process import RunProcess, new_executor_id
from joliba.runner.versions import code_cache_for, environments_for
from joliba.services import runs
from joliba.services.platform import Platform

log = logging.getLogger("joliba.runner")

#: Longest sleep between looks at the queue (runs queued by another server, due retries).
POLL_SECONDS = 2.0


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
        self.platform.signals.subscribe(self)
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

    @property
    def active(self) -> int:
        with self._lock:
            return len(self._active)

    # -- the loop -------------------------------------------------------------------------------

    def _loop(self) -> None:
        next_beat = next_reap = 0.0
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
                due = self._claim()
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
        if any(e.queued for e in ended):
            self._wake.set()
