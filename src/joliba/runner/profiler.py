"""The background profiler: takes waiting table profiles one at a time per worker.

It wakes when a table file is stored on this server (``platform.profiles_waiting``) and
polls every few seconds for files stored through other servers. While a profile runs its
claim is renewed, so a server that dies mid-profile hands it to another after the lease.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta

from joliba.services import profiles
from joliba.services.platform import Platform
from joliba.storage import resumable
from joliba.storage.profiling import profile
from joliba.storage.tables import TableError

log = logging.getLogger("joliba.profiler")

POLL_SECONDS = 3.0
#: How often partial uploads abandoned for a week are swept away.
SWEEP_SECONDS = 3600.0
LEASE = timedelta(minutes=2)
BEAT_SECONDS = 2.0


class Profiler:
    def __init__(self, platform: Platform, *, workers: int | None = None) -> None:
        self.platform = platform
        self.workers = platform.settings.profile_workers if workers is None else workers
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.platform.tables.sweep()  # spill folders left by a crash of this server
        for number in range(self.workers):
            thread = threading.Thread(
                target=self._loop, name=f"joliba-profiler-{number}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self.platform.profiles_waiting.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        waiting = self.platform.profiles_waiting
        swept = 0.0
        while not self._stopping.is_set():
            if time.monotonic() - swept > SWEEP_SECONDS:
                swept = time.monotonic()
                resumable.sweep(self.platform.settings.runtime_dir / "uploads")
            try:
                worked = self.run_one()
            except Exception:  # the database or storage is away: try again later
                log.exception("profiler step failed")
                worked = False
            if not worked:
                waiting.wait(POLL_SECONDS)
                waiting.clear()

    def run_one(self) -> bool:
        """Profile one waiting table; False when none waits."""
        with self.platform.db.transaction() as session:
            claimed = profiles.claim(session, LEASE)
            job = (claimed.sha256, claimed.kind) if claimed else None
        if job is None:
            return False
        sha256, kind = job
        try:
            with _Heartbeat(self.platform, sha256) as beat:
                path = self.platform.tables.parquet(sha256, kind)
                beat(0.02)
                with self.platform.tables.reading("profile") as con:
                    result = profile(con, path, beat)
        except TableError as exc:
            self._finish(sha256, error=str(exc))
        except Exception as exc:
            log.exception("profiling %s failed", sha256)
            self._finish(sha256, error=f"profiling failed: {type(exc).__name__}: {exc}")
        else:
            self._finish(sha256, result=result)
        return True

    def _finish(
        self, sha256: str, *, result: dict[str, object] | None = None, error: str = ""
    ) -> None:
        with self.platform.db.transaction() as session:
            profiles.finish(session, sha256, profile=result, error=error)


class _Heartbeat:
    """Keeps the claim alive and the shown progress fresh while DuckDB works."""

    def __init__(self, platform: Platform, sha256: str) -> None:
        self.platform = platform
        self.sha256 = sha256
        self.fraction = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="joliba-profile-beat", daemon=True)

    def __call__(self, fraction: float) -> None:
        self.fraction = fraction

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._done.wait(BEAT_SECONDS):
            try:
                with self.platform.db.transaction() as session:
                    profiles.renew(session, self.sha256, self.fraction)
            except Exception:  # a missed beat is harmless; the lease allows many
                log.warning("could not renew the profile claim of %s", self.sha256)
