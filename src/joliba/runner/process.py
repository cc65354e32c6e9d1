"""One run as a child process: start it, relay its output live, enforce its deadline.

The child is ``python -m joliba.sdk.entry`` in the version's environment and code folder,
inside the run sandbox (:mod:`joliba.builds.sandbox`), in its own session so that a cancel
or timeout ends its whole process tree. Its stdout, stderr and SDK events (JSON lines on an
inherited pipe) are read with one selector and written to the database in small batches, so
logs appear on the run page as they happen. Its network goes through the run proxy
(:mod:`joliba.runner.run_network`), which this supervisor serves for the run's lifetime.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from joliba.builds import process_group
from joliba.builds.environments import Environment, Environments, clean_env, sandbox_env
from joliba.builds.packages import CodeCache, requirements_text
from joliba.builds.process_group import GATE, ProcessGroup
from joliba.builds.sandbox import DATABASE, FILES, NETWORK, Mounts, Sandbox
from joliba.builds.versions import archive_key
from joliba.db.tables import Connection, PipelineRun, Workspace, utcnow
from joliba.domain import wire
from joliba.domain.addresses import parse_allow_list
from joliba.domain.errors import TooLarge
from joliba.domain.run_limits import Limits
from joliba.domain.runs import LogStream, RunState
from joliba.runner.disk_checks import QUOTA_EVERY, DiskChecks
from joliba.runner.limit_reasons import LimitReasons, signal_of
from joliba.runner.run_network import NetworkPolicy, RunNetwork, connection_patterns
from joliba.runner.run_output import MAX_LINE, Batch, log_line, parse_time, take_event, trim
from joliba.services import connections, runs
from joliba.services.platform import Platform
from joliba.services.workspace_databases import SQLITE_FILE

log = logging.getLogger("joliba.runner")

#: Seconds between SIGTERM and SIGKILL when a run is stopped.
KILL_GRACE = 3.0
_FLUSH_EVERY = 0.1
_MAX_BATCH = 500
#: How long to keep trying while the database is unreachable.
_RETRY_PAUSE = 1.0
_FINAL_PATIENCE = 60.0


@dataclass(frozen=True)
class Launch:
    """Everything the child needs, read from the database before it starts."""

    command: list[str]
    cwd: Path
    env: dict[str, str]
    stdin: bytes
    timeout: int
    #: The run's private folder (its /tmp in the sandbox), removed when the run ends.
    scratch: Path
    network: RunNetwork | None = None


class RunProcess:
    """Supervises one claimed run, in its own thread, until it ends."""

    def __init__(
        self,
        platform: Platform,
        claimed: runs.Claimed,
        *,
        executor: str,
        environments: Environments,
        code: CodeCache,
        on_end: Callable[[RunProcess, runs.Ended | None], None],
    ) -> None:
        self.platform = platform
        self.run_id = claimed.run_id
        self.token = claimed.token
        self.executor = executor
        self.environments = environments
        self.code = code
        self.on_end = on_end
        self._cancel = threading.Event()
        self._lost = threading.Event()
        self._stop_reason = ""
        self.limits = Limits.from_settings(platform.settings)
        self._reasons = LimitReasons(self.limits)
        self._log_bytes = 0
        self._disk = DiskChecks(platform)
        self.thread = threading.Thread(target=self._main, name=f"run-{self.run_id}", daemon=True)

    # -- called from other threads --------------------------------------------------------

    def start(self) -> None:
        self.thread.start()

    def cancel(self, reason: str = "cancelled") -> None:
        self._stop_reason = self._stop_reason or reason
        self._cancel.set()

    def lose(self) -> None:
        """The lease was lost (another server reaped the run): stop and write nothing more."""
        self._lost.set()
        self._cancel.set()

    # -- the run's own thread ------------------------------------------------------------

    def _main(self) -> None:
        ended: runs.Ended | None = None
        try:
            ended = self._supervise()
        except Exception as exc:  # a bug or a broken environment must not leave it running
            log.exception("run %s: supervisor failed", self.run_id)
            ended = self._finish(RunState.FAILED, None, f"could not run: {exc}")
        finally:
            self.on_end(self, ended)

    def _supervise(self) -> runs.Ended | None:
        try:
            launch = self._prepare()
        except Exception as exc:
            message = getattr(exc, "message", None) or str(exc)
            return self._finish(RunState.FAILED, None, f"could not start: {message}")
        try:
            return self._execute(launch)
        finally:
            if launch.network is not None:
                launch.network.close()
            shutil.rmtree(launch.scratch, ignore_errors=True)

    def _execute(self, launch: Launch) -> runs.Ended | None:
        deadline_at = time.monotonic() + launch.timeout
        read_fd, write_fd = os.pipe()
        group = None
        if launch.network is not None and process_group.needed():
            group = ProcessGroup.create(str(self.run_id), self.limits.processes)
        command, gate = launch.command, None
        if group is not None:
            # The child waits at the gate until it is in its group (see process_group).
            gate = os.pipe()
            command = [*GATE, str(gate[0]), *command]
        try:
            launch.env["JOLIBA_EVENTS_FD"] = str(write_fd)
            child = subprocess.Popen(  # noqa: S603 (our interpreter and module)
                command,
                cwd=launch.cwd,
                env=launch.env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                pass_fds=(write_fd,) if gate is None else (write_fd, gate[0]),
                start_new_session=True,
            )
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
            if gate is not None:
                os.close(gate[0])
        if group is not None and gate is not None:
            try:
                group.add(child.pid)
            except OSError:
                _signal_group(child.pid, signal.SIGKILL)
                raise
            finally:
                os.write(gate[1], b"1")
                os.close(gate[1])
        threading.Thread(target=_feed, args=(child, launch.stdin), daemon=True).start()
        try:
            state, reason = self._pump(child, read_fd, deadline_at, launch.timeout)
        finally:
            if group is not None:
                group.remove()
        if self._lost.is_set():
            return None
        code = child.returncode
        if state is None:
            if code == 0:
                state, reason = RunState.SUCCEEDED, ""
            elif (limit := self._reasons.reason(code)) is not None:
                state, reason = RunState.FAILED, limit
            elif (killed := signal_of(code)) is not None:
                state, reason = RunState.FAILED, f"killed by signal {killed.name}"
            else:
                state, reason = RunState.FAILED, f"exited with code {code}"
        return self._finish(state, code, reason)

    def _prepare(self) -> Launch:
        with self.platform.db.session(write=False) as session:
            run = session.get(PipelineRun, self.run_id)
            if run is None:
                raise RuntimeError("the run was deleted")
            version = run.version
            sha = version.archive_sha256
            self.limits = replace(self.limits, **_known_limits(run.pipeline.limits))
            self._reasons = LimitReasons(self.limits)
            timeout = run.timeout_seconds
            values = runs.unseal(self.platform.box, version, run.parameters)
            rows = session.scalars(
                select(Connection).where(Connection.workspace_id == run.workspace_id)
            ).all()
            conns: dict[str, dict[str, Any]] = {
                c.slug: {
                    "type": c.type,
                    "name": c.name,
                    "fields": connections.reveal(c, self.platform.box),
                }
                for c in rows
            }
            workspace_id = run.workspace_id
            workspace = session.get(Workspace, workspace_id)
            slug = workspace.slug if workspace else ""
            self._disk = DiskChecks.of(self.platform, workspace_id, workspace)
        if (capped := self._disk.cap_files_to_quota(self.limits)) is not None:
            self.limits, self._reasons = capped
        problem = self._disk.problem(quota=False)  # the quota was just checked
        if problem is not None:
            raise TooLarge(problem)
        folder = self.code.folder(sha)
        if not folder.is_dir():
            self._system(f"unpacking version code ({sha[:12]})")
            folder = self._fetch_code(sha)
        environment = self.environments.get(requirements_text(folder))
        if environment is None:
            self._system("building the Python environment (first run on this server)")
            environment = self.environments.ensure(requirements_text(folder))
        settings = self.platform.settings
        files: Path | None = None
        if self.platform.store.is_local:
            files = Path(self.platform.store.workspace_files(workspace_id).root)
            files.mkdir(parents=True, exist_ok=True)
        # The workspace's PostgreSQL database when there is a workspace-database server,
        # else its SQLite file (a folder only this workspace's runs see).
        postgres_url = self.platform.databases.run_url(workspace_id)
        database = None if postgres_url else self._database_folder(workspace_id)
        sqlite_url = f"sqlite:///{database / DATABASE_FILE}" if database else None
        run_env = {
            "JOLIBA_RUN_ID": str(self.run_id),
            "JOLIBA_WORKSPACE": slug,
            "JOLIBA_SERVER_URL": settings.base_url,
            "JOLIBA_RUN_TOKEN": self.token,
            "JOLIBA_LOG_LEVEL": "debug",
        }
        payload: dict[str, Any] = {
            "parameters": values,
            "connections": conns,
            "endpoints": [],
        }
        argv = [str(environment.python), "-m", "joliba.sdk.entry"]
        scratch = settings.runtime_dir / "runs" / str(self.run_id)
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(parents=True)
        sandbox = Sandbox(settings)
        if not sandbox.enabled:
            # JOLIBA_SANDBOX=off: a plain child process that can reach all the server can.
            env = clean_env(**run_env, JOLIBA_PARENT_PID=str(os.getpid()))
            if files is not None:
                env["JOLIBA_FILES_PATH"] = str(files)
            payload["database_url"] = postgres_url or sqlite_url
            return Launch(argv, folder, env, json.dumps(payload).encode(), timeout, scratch)
        reached = [dict(c["fields"]) for c in conns.values()]
        payload["endpoints"] = _tcp_endpoints(conns)
        if postgres_url:  # reached, like a PostgreSQL connection, through a relayed port
            endpoint = self.platform.databases.endpoint
            assert endpoint is not None
            reached.append({"host": endpoint.host, "port": str(endpoint.port)})
            payload["endpoints"].append(
                {"slug": "", "host": endpoint.host, "port": endpoint.port, "database": True}
            )
            payload["database_url"] = postgres_url
        else:
            payload["database_url"] = f"sqlite:///{DATABASE / DATABASE_FILE}"
        network = self._network(reached)
        mounts = Mounts(
            code=folder, scratch=scratch, files=files, database=database, network=network.folder
        )
        try:
            command = sandbox.command(argv, mounts, python_env=_env_folder(environment))
        except Exception:
            network.close()
            raise
        env = sandbox_env(
            environment,
            **run_env,
            JOLIBA_LIMITS=self.limits.to_env(),
            JOLIBA_NET_SOCKET=str(NETWORK / network.socket_path.name),
        )
        if files is not None:
            env["JOLIBA_FILES_PATH"] = str(FILES)
        return Launch(command, folder, env, json.dumps(payload).encode(), timeout, scratch, network)

    def _network(self, fields: list[dict[str, object]]) -> RunNetwork:
        settings = self.platform.settings
        allowed = [*connection_patterns(fields), *parse_allow_list(settings.run_allow_hosts)]
        network = RunNetwork(
            NetworkPolicy.for_run(settings.base_url, allowed),
            on_refused=lambda message: self._system(f"network: {message}", "warning"),
        )
        network.start()
        return network

    def _database_folder(self, workspace_id: object) -> Path:
        """The workspace's own folder for its SQLite database (the run sees only this one)."""
        root = self.platform.settings.workspace_databases_dir
        folder = root / str(workspace_id)
        folder.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm", "-journal"):  # the layout before per-workspace folders
            old = root / f"{workspace_id}.sqlite{suffix}"
            if old.exists() and not (folder / f"{DATABASE_FILE}{suffix}").exists():
                old.rename(folder / f"{DATABASE_FILE}{suffix}")
        return folder

    def _fetch_code(self, sha: str) -> Path:
        with tempfile.TemporaryDirectory(prefix="joliba-code-") as scratch:
            local = Path(scratch) / "archive.zip"
            try:
                self.platform.store.get_file(archive_key(sha), local)
            except OSError as exc:
                raise RuntimeError(
                    f"the version's code is not in storage ({archive_key(sha)}: {exc}); "
                    "servers sharing a database must share JOLIBA_STORAGE_URL"
                ) from exc
            return self.code.add(local, sha)

    def _pump(
        self, child: subprocess.Popen[bytes], events_fd: int, deadline_at: float, timeout: int
    ) -> tuple[RunState | None, str]:
        """Relay output until the child and its pipes are done; returns a forced ending."""
        assert child.stdout is not None and child.stderr is not None
        selector = selectors.DefaultSelector()
        streams = {
            child.stdout.fileno(): LogStream.STDOUT,
            child.stderr.fileno(): LogStream.STDERR,
            events_fd: LogStream.SDK,
        }
        for fd in streams:
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ)
        partial: dict[int, bytes] = dict.fromkeys(streams, b"")
        batch = Batch()
        last_flush = 0.0
        forced: tuple[RunState | None, str] = (None, "")
        kill_at: float | None = None
        exited_at: float | None = None
        next_quota_check = time.monotonic() + QUOTA_EVERY
        try:
            while selector.get_map():
                for key, _ in selector.select(timeout=_FLUSH_EVERY):
                    fd = int(key.fd)
                    try:
                        chunk = os.read(fd, 65536)
                    except BlockingIOError:
                        continue
                    if not chunk:
                        selector.unregister(fd)
                        if partial[fd]:
                            self._take(batch, streams[fd], partial[fd])
                        partial[fd] = b""
                        continue
                    data = partial[fd] + chunk
                    *whole, partial[fd] = data.split(b"\n")
                    for raw in whole:
                        self._take(batch, streams[fd], raw)
                    if len(partial[fd]) > MAX_LINE:
                        self._take(batch, streams[fd], partial[fd])
                        partial[fd] = b""
                now = time.monotonic()
                if batch and (now - last_flush >= _FLUSH_EVERY or len(batch.lines) > _MAX_BATCH):
                    if self._flush(batch):
                        batch, last_flush = Batch(), now
                    else:  # the database is unreachable: keep the lines, try again soon
                        trim(batch)
                        last_flush = now + _RETRY_PAUSE
                if forced[0] is None and kill_at is None:
                    if self._cancel.is_set():
                        reason = self._stop_reason or "cancelled"
                        forced = (RunState.CANCELLED, reason)
                    elif now >= deadline_at:
                        forced = (RunState.TIMED_OUT, f"timed out after {timeout} s")
                    elif now >= next_quota_check:
                        next_quota_check = now + QUOTA_EVERY
                        problem = self._disk.problem()
                        if problem is not None:
                            forced = (RunState.FAILED, problem)
                    if forced[0] is not None:
                        if not self._lost.is_set():
                            self._system(f"stopping the run: {forced[1]}", "warning")
                        _signal_group(child.pid, signal.SIGTERM)
                        kill_at = now + KILL_GRACE
                if kill_at is not None and now >= kill_at:
                    _signal_group(child.pid, signal.SIGKILL)
                    kill_at = float("inf")
                if exited_at is None and child.poll() is not None:
                    exited_at = now
                if exited_at is not None and now - exited_at > 1.0:
                    # The main process is gone but something it started holds the pipes.
                    _signal_group(child.pid, signal.SIGKILL)
                    break
        finally:
            selector.close()
            os.close(events_fd)
            deadline = time.monotonic() + _FINAL_PATIENCE
            while batch and not self._flush(batch) and time.monotonic() < deadline:
                time.sleep(_RETRY_PAUSE)
            child.wait()
            # Whatever the child started must not outlive the run.
            _signal_group(child.pid, signal.SIGKILL)
            for pipe in (child.stdout, child.stderr):
                pipe.close()
        return forced

    def _keep(self, batch: Batch, line: dict[str, Any]) -> None:
        """Keep a log line, until the run's lines pass JOLIBA_RUN_LOG_MB: the rest are
        dropped (the run goes on), so that no run can fill the metadata database."""
        budget = self.platform.settings.run_log_mb * 1024 * 1024
        if budget and self._log_bytes > budget:
            return
        self._log_bytes += len(line["message"]) + 64  # the row's own weight, roughly
        batch.lines.append(line)
        if budget and self._log_bytes > budget:
            batch.lines.append(
                log_line(
                    LogStream.SYSTEM,
                    "warning",
                    f"log limit reached ({self.platform.settings.run_log_mb} MB): further "
                    "lines of this run are dropped",
                )
            )

    def _take(self, batch: Batch, stream: LogStream, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        at = utcnow()
        if stream is LogStream.STDERR:
            self._reasons.see(text)
        data = None
        if stream is LogStream.SDK:
            with contextlib.suppress(ValueError):
                data = json.loads(text)
        if not isinstance(data, dict) or wire.EVENT not in data:
            # Output, or a line on the events pipe that is not an SDK event: kept as text.
            self._keep(batch, {"at": at, "stream": stream, "level": "info", "message": text})
            return
        event = wire.as_event(data)
        if event is not None:  # else a kind this runner does not know: dropped
            take_event(batch, event, parse_time(event.get("at")) or at, self._keep)

    def _flush(self, batch: Batch) -> bool:
        """Write the batch; False (and the batch kept by the caller) if the database failed."""
        if self._lost.is_set():
            return True
        try:
            with self.platform.db.transaction() as session:
                runs.append_logs(session, self.run_id, batch.lines)
                if batch.progress is not None:
                    runs.set_progress(session, self.run_id, *batch.progress)
                for output in batch.outputs:
                    if output["kind"] in wire.OUTPUT_KINDS:
                        runs.add_output(session, self.run_id, **output)
        except SQLAlchemyError as exc:
            log.warning(
                "run %s: could not store %d log lines yet: %s",
                self.run_id,
                len(batch.lines),
                type(exc).__name__,
            )
            return False
        return True

    def _system(self, message: str, level: str = "info") -> None:
        self._flush(Batch(lines=[log_line(LogStream.SYSTEM, level, message)]))

    def _finish(self, state: RunState, code: int | None, error: str) -> runs.Ended | None:
        """Record the ending, retrying while the database is unreachable (up to a minute)."""
        settings = self.platform.settings
        deadline = time.monotonic() + _FINAL_PATIENCE
        while True:
            try:
                with self.platform.db.transaction() as session:
                    if error:
                        runs.system_log(session, self.run_id, f"run {state}: {error}", "error")
                    return runs.finish(
                        session,
                        self.platform.box,
                        self.run_id,
                        state=state,
                        executor=self.executor,
                        default_timeout=settings.run_timeout_seconds,
                        exit_code=code,
                        error=error,
                    )
            except SQLAlchemyError:
                if time.monotonic() > deadline:
                    raise  # the lease runs out and another server marks the run failed
                time.sleep(_RETRY_PAUSE)


#: The workspace database file inside its folder.
DATABASE_FILE = SQLITE_FILE


def _known_limits(overrides: dict[str, int] | None) -> dict[str, int]:
    """A pipeline's own limits, keeping only the names that Limits knows."""
    names = {f.name for f in fields(Limits)} - {"nice"}
    return {k: int(v) for k, v in (overrides or {}).items() if k in names}


def _env_folder(environment: Environment) -> Path | None:
    """A built environment's folder (which the sandbox mounts); None for the server's own."""
    return environment.python.parent.parent if environment.key else None


def _tcp_endpoints(conns: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The PostgreSQL connections: the run reaches them through forwarded local ports."""
    endpoints = []
    for slug, conn in conns.items():
        fields = conn["fields"]
        if conn["type"] == "postgresql" and fields.get("host"):
            port = str(fields.get("port") or "5432")
            if port.isdigit():
                endpoints.append({"slug": slug, "host": str(fields["host"]), "port": int(port)})
    return endpoints


def _feed(child: subprocess.Popen[bytes], data: bytes) -> None:
    assert child.stdin is not None
    try:
        child.stdin.write(data)
        child.stdin.close()
    except (BrokenPipeError, OSError):
        pass  # the child ended before reading its parameters; its exit code says why


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def new_executor_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
